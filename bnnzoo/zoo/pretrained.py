"""Where the published pretrained weights are: URLs and SHA-256s of every file, as constants.

The zoo's published BinaryDenseNets, ResNetE18 and Bi-Real ResNet-18 are weight-compatible with
larq-zoo's models of the same names, so ``weights="imagenet"`` loads the ImageNet weights larq-zoo
releases. The URLs and hashes below are those in larq-zoo 2.4's model code
(``tests/zoo/test_pretrained.py`` checks them against it); ``bnnzoo.zoo.weights`` downloads a file
once and verifies its hash.

Example:
    >>> IMAGENET["BinaryDenseNet28"].file(include_top=False).url
    'https://github.com/larq/zoo/releases/download/binary_densenet-v0.1.0/binary_densenet_28_weights_notop.h5'
"""

from __future__ import annotations

from dataclasses import dataclass

_RELEASES = "https://github.com/larq/zoo/releases/download"


@dataclass(frozen=True)
class WeightsFile:
    """A weights file on the web and the SHA-256 it must have."""

    url: str
    sha256: str


@dataclass(frozen=True)
class Pretrained:
    """The published weights of one model: with the classifier, and without (``include_top``).

    Attributes:
        larq_zoo_name: the model in ``larq_zoo.literature`` that published them.
        top: the weights of the whole model, classifier included.
        no_top: the weights of the feature extractor (``include_top=False``).
    """

    larq_zoo_name: str
    top: WeightsFile
    no_top: WeightsFile

    def file(self, *, include_top: bool) -> WeightsFile:
        return self.top if include_top else self.no_top


def _larq_zoo(name: str, top: tuple[str, str], no_top: tuple[str, str]) -> Pretrained:
    """``top`` and ``no_top`` are (release/file, sha256) under larq-zoo's GitHub releases."""
    return Pretrained(
        name,
        WeightsFile(f"{_RELEASES}/{top[0]}", top[1]),
        WeightsFile(f"{_RELEASES}/{no_top[0]}", no_top[1]),
    )


# ImageNet weights, keyed by the larq-zoo model name.
IMAGENET: dict[str, Pretrained] = {
    p.larq_zoo_name: p
    for p in (
        _larq_zoo(
            "BinaryDenseNet28",
            ("binary_densenet-v0.1.0/binary_densenet_28_weights.h5",
             "21fe3ca03eed244df9c41a2219876fcf03e73800932ec96a3e2a76af4747ac53"),
            ("binary_densenet-v0.1.0/binary_densenet_28_weights_notop.h5",
             "a376df1e41772c4427edd1856072b934a89bf293bf911438bf6f751a9b2a28f5"),
        ),
        _larq_zoo(
            "BinaryDenseNet37",
            ("binary_densenet-v0.1.0/binary_densenet_37_weights.h5",
             "8056a5d52c3ed86a934893987d09a06f59a5166aa9bddcaedb050f111d0a7d76"),
            ("binary_densenet-v0.1.0/binary_densenet_37_weights_notop.h5",
             "4e12bca9fd27580a5b833241c4eb35d6cc332878c406048e6ca8dbbc78d59175"),
        ),
        _larq_zoo(
            "BinaryDenseNet37Dilated",
            ("binary_densenet-v0.1.0/binary_densenet_37_dilated_weights.h5",
             "15c1bcd79b8dc22971382fbf79acf364a3f51049d0e584a11533e6fdbb7363d3"),
            ("binary_densenet-v0.1.1/binary_densenet_37_dilated_weights_notop.h5",
             "8b31fbfdc8de08a46c6adcda1ced48ace0a2ff0ce45a05c72b2acc27901dd88b"),
        ),
        _larq_zoo(
            "BinaryDenseNet45",
            ("binary_densenet-v0.1.0/binary_densenet_45_weights.h5",
             "d00a0d26fbd2dba1bfba8c0306c770f3aeea5c370e99f963bb239bd916f72c37"),
            ("binary_densenet-v0.1.0/binary_densenet_45_weights_notop.h5",
             "e72d5cc6b0afe4612f8be7b1f9bb48a53ba2c8468b57bf1266d2900c99fd2adf"),
        ),
        _larq_zoo(
            "BinaryResNetE18",
            ("resnet_e-v0.1.0/resnet_e_18_weights.h5",
             "bde4a64d42c164a7b10a28debbe1ad5b287c499bc0247ecb00449e6e89f3bf5b"),
            ("resnet_e-v0.1.0/resnet_e_18_weights_notop.h5",
             "14cb037e47d223827a8d09db88ec73d60e4153a4464dca847e5ae1a155e7f525"),
        ),
        _larq_zoo(
            "BiRealNet",
            ("birealnet-v0.3.0/birealnet_weights.h5",
             "6e6efac1584fcd60dd024198c87f42eb53b5ec719a5ca1f527e1fe7e8b997117"),
            ("birealnet-v0.3.0/birealnet_weights_notop.h5",
             "5148b61c0c2a1094bdef811f68bf4957d5ba5f83ad26437b7a4a6855441ab46b"),
        ),
    )
}  # fmt: skip
