"""rblock: the research library of R-Block Pilot.

Regularizers for convolutional networks (DropBlock, SpatialDropout, channel-group dropping, element-wise
dropout) with calibrated drop rates and paired masks for the two-pass objectives of R-Drop and R-Block, the
consistency loss, and a factory for the arms a pilot compares. Imports torch, torchvision, numpy and
scikit-learn only: usable with no server.
"""

__version__ = "0.1.0"

from pilot_spec.models import HUB_WEIGHTS
from rblock.channel_drop import ChannelGroupDrop2d, SpatialDropout2d, channel_group_drop_2d, spatial_dropout_2d
from rblock.consistency import symmetric_kl, two_pass_loss
from rblock.drop_block import DropBlock2d, drop_block_2d
from rblock.drop_layer import DropLayer
from rblock.element_dropout import ElementDropout, element_dropout
from rblock.metrics import (
    Stability,
    accuracy,
    expected_calibration_error,
    nll,
    predict,
    seed_churn,
    sub_model_stability,
)
from rblock.models import MODELS, create_model, describe_models, drop_sites
from rblock.pairing import PAIRINGS, paired_forward
from rblock.regularizer import ARMS, Regularizer, create_regularizer, describe_arms

__all__ = [
    "ARMS",
    "HUB_WEIGHTS",
    "MODELS",
    "PAIRINGS",
    "ChannelGroupDrop2d",
    "DropBlock2d",
    "DropLayer",
    "ElementDropout",
    "Regularizer",
    "SpatialDropout2d",
    "Stability",
    "accuracy",
    "channel_group_drop_2d",
    "create_model",
    "create_regularizer",
    "describe_arms",
    "describe_models",
    "drop_block_2d",
    "drop_sites",
    "element_dropout",
    "expected_calibration_error",
    "nll",
    "paired_forward",
    "predict",
    "seed_churn",
    "spatial_dropout_2d",
    "sub_model_stability",
    "symmetric_kl",
    "two_pass_loss",
]
