"""The papers the zoo's models come from, each cited once.

Example:
    >>> from bnnzoo.zoo.papers import BETHGE_2019
    >>> BETHGE_2019.key, BETHGE_2019.short
    ('bethge2019', 'Bethge et al. 2019')
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paper:
    """A paper, cited by authors, year and title.

    Attributes:
        authors: the authors' surnames, in the paper's order.
        year: year of publication.
        title: the paper's title.
        nickname: what the paper's architecture is usually called (``"BitNet"``), or "".
    """

    authors: tuple[str, ...]
    year: int
    title: str
    nickname: str = ""

    @property
    def key(self) -> str:
        """First author and year, lower case: ``"zhang2017"``."""
        return f"{self.authors[0].lower()}{self.year}"

    @property
    def short(self) -> str:
        """``"Zhang et al. 2017"``."""
        first = self.authors[0] + (" et al." if len(self.authors) > 1 else "")
        return f"{first} {self.year}"

    def __str__(self) -> str:
        return f'{", ".join(self.authors)} {self.year}, "{self.title}"'


ZHANG_2017 = Paper(
    ("Zhang", "Ozay", "Li", "Okatani"),
    2017,
    "Truncating Wide Networks using Binary Tree Architectures",
    "BitNet",
)
BETHGE_2019 = Paper(
    ("Bethge", "Yang", "Bornstein", "Meinel"),
    2019,
    "BinaryDenseNet: Developing an Architecture for Binary Neural Networks",
    "BinaryDenseNet",
)
WU_2016 = Paper(
    ("Wu", "Wu", "Zhao"),
    2016,
    "Binarized Neural Networks on the ImageNet Classification Task",
)

# the papers of the larq-zoo models (bnnzoo.zoo.larq_zoo)
HUBARA_2016 = Paper(
    ("Hubara", "Courbariaux", "Soudry", "El-Yaniv", "Bengio"),
    2016,
    "Binarized Neural Networks",
    "BinaryAlexNet",
)
RASTEGARI_2016 = Paper(
    ("Rastegari", "Ordonez", "Redmon", "Farhadi"),
    2016,
    "XNOR-Net: ImageNet Classification Using Binary Convolutional Neural Networks",
    "XNOR-Net",
)
ZHOU_2016 = Paper(
    ("Zhou", "Wu", "Ni", "Zhou", "Wen", "Zou"),
    2016,
    "DoReFa-Net: Training Low Bitwidth Convolutional Neural Networks with Low Bitwidth Gradients",
    "DoReFa-Net",
)
LIU_2018 = Paper(
    ("Liu", "Wu", "Luo", "Yang", "Liu", "Cheng"),
    2018,
    "Bi-Real Net: Enhancing the Performance of 1-bit CNNs With Improved Representational "
    "Capability and Advanced Training Algorithm",
    "Bi-Real Net",
)
BETHGE_2020 = Paper(
    ("Bethge", "Bartz", "Yang", "Chen", "Meinel"),
    2020,
    "MeliusNet: Can Binary Neural Networks Achieve MobileNet-level Accuracy?",
    "MeliusNet",
)
MARTINEZ_2020 = Paper(
    ("Martinez", "Yang", "Bulat", "Tzimiropoulos"),
    2020,
    "Training Binary Neural Networks with Real-to-Binary Convolutions",
    "Real-to-Binary Net",
)
BANNINK_2021 = Paper(
    ("Bannink", "Hillier", "Geiger", "de Bruin", "Overweel", "Neeven", "Helwegen"),
    2021,
    "Larq Compute Engine: Design, Benchmark, and Deploy State-of-the-Art Binarized Neural Networks",
    "QuickNet",
)
XUE_2023 = Paper(
    ("Xue", "Lu", "Chang", "Wei", "Wei"),
    2023,
    "Fast and Accurate Binary Neural Networks based on Depth-Width Reshaping",
    "DWR",
)
ZHU_2022 = Paper(
    ("Zhu", "Hofstee", "Lee", "Al-Ars"),
    2022,
    "Improving Gradient Paths for Binary Convolutional Neural Networks",
    "IGP",
)
LIU_2020 = Paper(
    ("Liu", "Shen", "Savvides", "Cheng"),
    2020,
    "ReActNet: Towards Precise Binary Neural Network with Generalized Activation Functions",
    "ReActNet",
)
