"""Data: image IO, colour, MATLAB's bicubic imresize, degradation, training patches.

ESPCN (Shi et al., CVPR 2016) super-resolves the luminance channel Y only
(Sec. 3); Cb and Cr are upscaled with bicubic interpolation. The evaluation protocol the
literature's tables use (SRCNN's MATLAB scripts; README, "Evaluating like the papers") is::

    1. HR image as uint8 RGB; a single-channel image is used as Y directly
    2. Y = round(16 + 65.481 R + 128.553 G + 24.966 B) as uint8, R, G, B in [0, 1]
    3. modcrop Y to a multiple of r (crop bottom/right)
    4. I^HR = Y / 255 (float); I^LR = imresize(I^HR, 1/r, 'bicubic'), float, NOT rounded
    5. the upscaled result is clipped to [0, 1] and stored as uint8(round(255 x))
    6. PSNR / SSIM on Y with r pixels shaved (espcn_ref.metrics)

MATLAB's bicubic imresize is written out in :mod:`espcn_ref.data.resize`.

Training pairs (Sec. 3.2): 17r x 17r HR sub-images and the matching 17 x 17 LR
sub-images. Sec. 2 describes I^LR as I^HR blurred with a Gaussian filter and
downsampled by r; the paper's results tables, like ours, use the bicubic
protocol above. Both degradations are here.

Conventions: images are (H, W) or (H, W, C) NumPy arrays (HWC, as image files
are; the network side converts to NCHW). "[0, 255] scale" means float values
in the uint8 range; "[0, 1]" means divided by 255.

The package is split by stage of that pipeline: ``io`` (files), ``colour``
(YCbCr, rounding), ``resize`` (imresize, Gaussian degradation), ``patches``
(modcrop, pairs, sub-images) and ``sets`` (folders, sample photos).
"""

from .colour import rgb_to_y_fullrange, rgb_to_y_uint8, rgb_to_ycbcr, round_half_away, ycbcr_to_rgb, ycbcr_to_rgb_uint8
from .io import IMAGE_EXTENSIONS, load_image, save_image
from .patches import extract_patches, make_lr_hr_pair, modcrop, patch_origins, random_dihedral
from .resize import bicubic_upscale, gaussian_degrade, gaussian_kernel1d, imresize, resize_weights
from .sets import DEFAULT_SAMPLES, HELD_OUT, find_data_dir, list_images, load_set, sample_images, set_fingerprint, train_test_images

__all__ = [
    "DEFAULT_SAMPLES", "HELD_OUT", "IMAGE_EXTENSIONS", "bicubic_upscale", "extract_patches", "find_data_dir",
    "gaussian_degrade", "gaussian_kernel1d", "imresize", "list_images", "load_image", "load_set", "make_lr_hr_pair",
    "modcrop", "patch_origins", "random_dihedral", "resize_weights", "rgb_to_y_fullrange", "rgb_to_y_uint8", "rgb_to_ycbcr", "round_half_away",
    "sample_images", "save_image", "set_fingerprint", "train_test_images", "ycbcr_to_rgb", "ycbcr_to_rgb_uint8",
]
