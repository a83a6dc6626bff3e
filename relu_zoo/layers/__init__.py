"""ReLU-family activation layers, one per file; each delegates to `relu_zoo.activations`."""

from relu_zoo.layers.acon_c import AconC
from relu_zoo.layers.apl import APL
from relu_zoo.layers.bilinear import Bilinear
from relu_zoo.layers.celu import CELU
from relu_zoo.layers.crelu import CReLU
from relu_zoo.layers.elu import ELU
from relu_zoo.layers.geglu import GEGLU
from relu_zoo.layers.gelu import GELU
from relu_zoo.layers.glu import GLU
from relu_zoo.layers.hard_sigmoid import HardSigmoid
from relu_zoo.layers.hard_swish import HardSwish
from relu_zoo.layers.leaky_relu import LeakyReLU
from relu_zoo.layers.mish import Mish
from relu_zoo.layers.pelu import PELU, MinValue
from relu_zoo.layers.prelu import PReLU
from relu_zoo.layers.quick_gelu import QuickGELU
from relu_zoo.layers.relu import ReLU
from relu_zoo.layers.reglu import ReGLU
from relu_zoo.layers.relu6 import ReLU6
from relu_zoo.layers.rrelu import RReLU
from relu_zoo.layers.selu import SELU
from relu_zoo.layers.silu import SiLU
from relu_zoo.layers.softplus import Softplus
from relu_zoo.layers.squared_relu import SquaredReLU
from relu_zoo.layers.srelu import SReLU
from relu_zoo.layers.star_relu import StarReLU
from relu_zoo.layers.swiglu import SwiGLU
from relu_zoo.layers.swish import Swish
from relu_zoo.layers.xielu import XIELU

__all__ = [
    "AconC",
    "APL",
    "Bilinear",
    "CELU",
    "CReLU",
    "ELU",
    "GEGLU",
    "GELU",
    "GLU",
    "HardSigmoid",
    "HardSwish",
    "LeakyReLU",
    "MinValue",
    "Mish",
    "PELU",
    "PReLU",
    "QuickGELU",
    "ReGLU",
    "ReLU",
    "ReLU6",
    "RReLU",
    "SELU",
    "SiLU",
    "Softplus",
    "SquaredReLU",
    "SReLU",
    "StarReLU",
    "SwiGLU",
    "Swish",
    "XIELU",
]
