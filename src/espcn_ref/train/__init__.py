"""Training ESPCN on a CPU (Sec. 3.2), in three parts:

* :mod:`.loop` - the loop: sub-images, batches, steps, validation, selection;
* :mod:`.recipes` - what a run is: :class:`TrainConfig`, optimisers, schedules;
* :mod:`.run_folder` - checkpoint, model and log on disk, and exact resume.
"""

from .loop import build_patches, split_images, train, validation_psnr
from .recipes import TrainConfig, drop_epoch, fast_lr, make_optimizer, next_lr, update_average
from .run_folder import RUN_FILES, check_run_folder

__all__ = ["RUN_FILES", "TrainConfig", "build_patches", "check_run_folder", "drop_epoch", "fast_lr",
           "make_optimizer", "next_lr", "split_images", "train", "update_average", "validation_psnr"]
