"""The speed engine: the paper's network re-laid out for a CPU, no new math.

The mathematics lives in :mod:`espcn_ref.ops` and :mod:`espcn_ref.model`
(``forward_reference``); this package computes the same numbers faster,
and every function here is pinned by a test to the operation it re-lays out:

* :mod:`.grid` - the padded channels-last layout, and phi on it;
* :mod:`.conv` - a 'same' convolution as a sum of shifted GEMMs, and its backward;
* :mod:`.taps` - layer 1's gathered taps (one input channel);
* :mod:`.head` - PS off the grid, and PS + loss + gradient in one pass;
* :mod:`.network` - the layer stack on the grid (what ``ESPCN.forward`` runs);
* :mod:`.shards` - a training batch cut into shards on threads.
"""

from .conv import conv_grid, conv_grid_backward
from .grid import Grid, act_backward_grid, act_grid, from_grid, to_grid
from .head import shuffle_from_grid, shuffle_mse_grid
from .shards import shard_count
from .taps import im2col_grid

__all__ = ["Grid", "act_backward_grid", "act_grid", "conv_grid", "conv_grid_backward", "from_grid",
           "im2col_grid", "shard_count", "shuffle_from_grid", "shuffle_mse_grid", "to_grid"]
