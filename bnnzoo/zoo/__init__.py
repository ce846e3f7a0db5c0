"""The model zoo: registered factories for every BNN family bnnzoo implements.

Example:
    >>> from bnnzoo import zoo
    >>> model = zoo.BinaryDenseNet28(input_shape=(32, 32, 3), num_classes=10)
    >>> zoo.list_models("*resnet*")
    >>> zoo.list_families()["wu"]
    ['wu_bnn13', 'wu_alexnet']
"""

from bnnzoo.zoo.binary_densenet import (
    BinaryDenseNet,
    BinaryDenseNet28,
    BinaryDenseNet37,
    BinaryDenseNet37Dilated,
    BinaryDenseNet45,
    BinaryDenseNet51,
    BinaryDenseNet69,
)
from bnnzoo.zoo.bireal import BiRealResNet, BiRealResNet18, BiRealResNet34, BiRealSpec
from bnnzoo.zoo.bitnet import BitNet26, BitNet34, BitNetCifar, BitNetImageNet, WideResNetCifar
from bnnzoo.zoo.dwr import reshape_depth_width
from bnnzoo.zoo.igp import (
    IGPDenseNet,
    IGPDenseNet51,
    IGPDenseNet69,
    IGPResNet,
    IGPResNet21,
    IGPResNet37,
    IGPResNet41,
    IGPResNet69,
)
from bnnzoo.zoo.imagenet import decode_predictions, load_image, preprocess_input
from bnnzoo.zoo.larq_zoo import (
    BinaryAlexNet,
    BiRealNet,
    DoReFaNet,
    MeliusNet22,
    QuickNet,
    QuickNetLarge,
    QuickNetSmall,
    RealToBinaryNet,
    XNORNet,
)
from bnnzoo.zoo.loading import load_or_build
from bnnzoo.zoo.reactnet import ReActNetA, ReActNetBiReal, ReActNetBiReal18
from bnnzoo.zoo.registry import (
    ModelSpec,
    create_model,
    get_model_spec,
    list_families,
    list_models,
    register_model,
)
from bnnzoo.zoo.resnet_e import BinaryResNetE, BinaryResNetE18
from bnnzoo.zoo.weights import load_weights
from bnnzoo.zoo.wu import WuAlexNet, WuBNN13

__all__ = [
    "BiRealNet",
    "BinaryAlexNet",
    "BinaryDenseNet",
    "BinaryDenseNet28",
    "BinaryDenseNet37",
    "BinaryDenseNet37Dilated",
    "BinaryDenseNet45",
    "BinaryDenseNet51",
    "BinaryDenseNet69",
    "BinaryResNetE",
    "BinaryResNetE18",
    "BiRealResNet",
    "BiRealResNet18",
    "BiRealResNet34",
    "BiRealSpec",
    "BitNet26",
    "BitNet34",
    "BitNetCifar",
    "BitNetImageNet",
    "DoReFaNet",
    "MeliusNet22",
    "IGPDenseNet",
    "IGPDenseNet51",
    "IGPDenseNet69",
    "IGPResNet",
    "IGPResNet21",
    "IGPResNet37",
    "IGPResNet41",
    "IGPResNet69",
    "ModelSpec",
    "QuickNet",
    "QuickNetLarge",
    "QuickNetSmall",
    "ReActNetA",
    "ReActNetBiReal",
    "ReActNetBiReal18",
    "RealToBinaryNet",
    "WideResNetCifar",
    "create_model",
    "decode_predictions",
    "get_model_spec",
    "list_families",
    "list_models",
    "load_image",
    "load_or_build",
    "load_weights",
    "preprocess_input",
    "register_model",
    "reshape_depth_width",
    "WuAlexNet",
    "WuBNN13",
    "XNORNet",
]
