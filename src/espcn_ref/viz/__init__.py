"""The paper's figures, drawn from the library's own numbers.

Every picture here is computed by ``espcn_ref`` and only *drawn* here:

===============================  =============================================
function                         paper
===============================  =============================================
plot_shuffle                     the periodic shuffle: eq. (4)'s two readings
                                 (DCR, DCR_T) and PyTorch's CRD
plot_shuffle_matrix              PS as a permutation matrix: PS^-1 = PS^T
plot_channel_permutation         shuffle_permutation between two orders
plot_zero_insertion              Sec. 2.2, the fractional-stride input
plot_activation_patterns         Sec. 2.2, the r^2 activation patterns
plot_subpixel_kernels            Sec. 2.2, one k_s x k_s kernel = r^2 small ones
plot_three_forms                 Sec. 2.2, eq. (3): three forms, one output
plot_upsampling_cost             Sec. 2.2, multiply-adds against measured time
plot_psnr_vs_time                Fig. 2, PSNR against time per image (make bench)
plot_upscale_first_costs         Sec. 3.5, multiply-adds per HR pixel of SRCNN
                                 (bicubic first) and ESPCN against r
plot_checkerboard                Sec. 2.2, the r x r pattern of a sub-pixel
                                 layer (independent or ICNR phases) and of a
                                 deconvolution with mod(k_s, r) != 0
plot_training_curves             Sec. 3.2, training loss and validation PSNR
plot_first_layer_filters         Fig. 3, the first layer's filters by variance
plot_last_layer_filters          Fig. 4, the last layer before / after PS, and
                                 its transposed-convolution stamp
plot_sr_crops                    Fig. 5, crops of HR, bicubic and ESPCN
plot_protocol_variants           Tables 1-2: how the protocol moves PSNR
===============================  =============================================

Each ``plot_*`` returns a ``matplotlib.figure.Figure`` built without pyplot,
so no display is needed: ``fig.savefig`` renders with Agg. In a notebook
the figure shows when it is a cell's last value. Table helpers compute the
rows a figure draws: :func:`upsampling_table`, :func:`protocol_variants`,
:func:`upscale_first_costs`; and :func:`phase_means`, :func:`phase_spread`
and :func:`block_residual` the numbers of the checkerboard figure. :func:`write_figures` writes every figure as a PNG
(``espcn-ref figures --out DIR``).
"""

from .shuffle import plot_channel_permutation, plot_shuffle, plot_shuffle_matrix
from .upsampling import (
    plot_activation_patterns,
    plot_subpixel_kernels,
    plot_three_forms,
    plot_upsampling_cost,
    plot_zero_insertion,
    upsampling_table,
)
from .training import (
    last_layer_mosaic,
    plot_first_layer_filters,
    plot_last_layer_filters,
    plot_sr_crops,
    plot_training_curves,
    read_log,
    sr_panels,
)
from .protocol import plot_protocol_variants, protocol_variants
from .speed import fig2_caption, fig2_points, plot_psnr_vs_time, plot_upscale_first_costs, read_bench, upscale_first_costs
from .checkerboard import block_residual, phase_means, phase_spread, plot_checkerboard
from .files import FIGURES, save_figure, write_fig2, write_figures
from ..ops.shuffle import shuffle_matrix  # drawn by plot_shuffle_matrix

__all__ = ['FIGURES', 'block_residual', 'fig2_caption', 'fig2_points', 'last_layer_mosaic', 'phase_means', 'phase_spread', 'plot_activation_patterns', 'plot_channel_permutation', 'plot_checkerboard', 'plot_first_layer_filters', 'plot_last_layer_filters', 'plot_protocol_variants', 'plot_psnr_vs_time', 'plot_shuffle', 'plot_shuffle_matrix', 'plot_sr_crops', 'plot_subpixel_kernels', 'plot_three_forms', 'plot_training_curves', 'plot_upsampling_cost', 'plot_upscale_first_costs', 'plot_zero_insertion', 'protocol_variants', 'read_bench', 'read_log', 'save_figure', 'sr_panels', 'upsampling_table', 'upscale_first_costs', 'write_fig2', 'write_figures', 'shuffle_matrix']
