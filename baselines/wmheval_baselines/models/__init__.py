"""The networks: ResU-Net (WMH), the downsized U-Net (white matter), the FLAIR-only FCN and
the FCN on VGG16."""

from wmheval_baselines.models.fcn_vgg import FcnVgg
from wmheval_baselines.models.flair_fcn import FlairFcn
from wmheval_baselines.models.resunet import ResUNet
from wmheval_baselines.models.wm_unet import WmUNet

__all__ = ["FcnVgg", "FlairFcn", "ResUNet", "WmUNet"]
