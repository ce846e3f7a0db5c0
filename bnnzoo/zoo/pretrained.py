"""Where the published pretrained weights are: URLs and SHA-256s of every file, as constants.

The zoo's published BinaryDenseNets, ResNetE18 and Bi-Real ResNet-18 are weight-compatible with
larq-zoo's models of the same names, and the ``larq_zoo`` family is built by larq-zoo's own code,
so ``weights="imagenet"`` loads the ImageNet weights larq-zoo releases. The URLs and hashes below
are those in larq-zoo 2.4's model code (``tests/zoo/test_pretrained.py`` checks them against it);
``bnnzoo.zoo.weights`` downloads a file once and verifies its hash.

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
        larq_zoo_name: the model in ``larq_zoo.literature`` or ``larq_zoo.sota`` that
            published them.
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
        # larq-zoo's own models (bnnzoo.zoo.larq_zoo builds them with larq-zoo's code)
        _larq_zoo(
            "BiRealNet",
            ("birealnet-v0.3.0/birealnet_weights.h5",
             "6e6efac1584fcd60dd024198c87f42eb53b5ec719a5ca1f527e1fe7e8b997117"),
            ("birealnet-v0.3.0/birealnet_weights_notop.h5",
             "5148b61c0c2a1094bdef811f68bf4957d5ba5f83ad26437b7a4a6855441ab46b"),
        ),
        _larq_zoo(
            "BinaryAlexNet",
            ("binary_alexnet-v0.3.0/binary_alexnet_weights.h5",
             "7fc065c47c5c1d92389e0bb988ce6df6a4fa09d803b866e2ba648069d6652d63"),
            ("binary_alexnet-v0.2.1/binary_alexnet_weights_notop.h5",
             "1d41b33ff39cd28d13679392641bf7711174a96d182417f91df45d0548f5bb47"),
        ),
        _larq_zoo(
            "DoReFaNet",
            ("dorefanet-v0.1.0/dorefanet_weights.h5",
             "645d7839d574faa3eeeca28f3115773d75da3ab67ff6876b4de12d10245ecf6a"),
            ("dorefanet-v0.1.1/dorefanet_weights_notop.h5",
             "8650e8a86d8d3968722cf5f20bcebe74d6d7bb45bbf03c4bb8c6486343f37e31"),
        ),
        _larq_zoo(
            "MeliusNet22",
            ("meliusnet22-v0.1.0/meliusnet22_weights.h5",
             "c1ba85e8389ae326009665ec13331e49fc3df4d0f925fa8553e224f7362c18ed"),
            ("meliusnet22-v0.1.1/meliusnet22_weights_notop.h5",
             "abfc5c50049d72a14e44df0c1cb73896ece2a1ab4bf9bb48fede6cc2f5e0b58f"),
        ),
        _larq_zoo(
            "RealToBinaryNet",
            ("r2b-v0.1.0/r2b_weights.h5",
             "e8fd16ca1ab9810ac3835f24f5c62758a57bc32a615f73aaa50d382d2b9617e1"),
            ("r2b-v0.1.0/r2b_weights_notop.h5",
             "4ec47abf1a4da5c65f4908076257e8d5c812673891089a88c9d9e84e949d1dab"),
        ),
        _larq_zoo(
            "XNORNet",
            ("xnornet-v0.2.0/xnornet_weights.h5",
             "e6ba24f785655260ae76a2ef1fab520e3528243d9c8fac430299cd81dbeabe10"),
            ("xnornet-v0.2.1/xnornet_weights_notop.h5",
             "20a17423090b2c80c6b7a6b62346faa4b2b7dc8d4da99efa792c9351cf86c3d5"),
        ),
        _larq_zoo(
            "QuickNet",
            ("quicknet-v1.0/quicknet_weights.h5",
             "8aba9e4e5f8d342faef04a0b2ae8e562da57dbb7d15162e8b3e091c951ba756c"),
            ("quicknet-v1.0/quicknet_weights_notop.h5",
             "204414e438373f14f6056a1c098249f505a87dd238e18d3a47a9bd8b66227881"),
        ),
        _larq_zoo(
            "QuickNetSmall",
            ("quicknet-v1.0/quicknet_small_weights.h5",
             "1ac3b07df7f5a911dd0b49febb2486428ddf1ca130297c403815dfae5a1c71a2"),
            ("quicknet-v1.0/quicknet_small_weights_notop.h5",
             "be8ba657155846be355c5580d1ea56eaf8282616de065ffc39257202f9f164ea"),
        ),
        _larq_zoo(
            "QuickNetLarge",
            ("quicknet-v1.0/quicknet_large_weights.h5",
             "c5158e8a59147b31370becd937825f4db8a5cdf308314874f678f596629be45c"),
            ("quicknet-v1.0/quicknet_large_weights_notop.h5",
             "adcf154a2a8007e81bd6af77c035ffbf54cd6413b89a0ba294e23e76a82a1b78"),
        ),
    )
}  # fmt: skip
