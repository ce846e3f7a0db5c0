"""Fine-tune a bnnzoo model on your own images with plain Keras.

Your images sit in one folder per class (the layout ``image_dataset_from_directory`` reads):

    photos/cat/001.jpg, photos/cat/002.jpg, ..., photos/dog/001.jpg, ...

    python examples/finetune_image_folder.py photos --out finetuned.keras

The zoo model (ImageNet weights by default) is the backbone without its classifier; a new
classifier for your classes goes on top. First only the new classifier trains (the backbone is
frozen), then everything trains at a tenth of the learning rate. The saved model takes images
as they are (0..255 RGB): the ImageNet normalization is its first layer, so a phone needs no
preprocessing code. Export it with ``examples/export_for_phone.py``.
"""

import argparse

import bnnzoo  # noqa: F401  (first: selects Keras 2 before TensorFlow is imported)

# isort: split
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.zoo.imagenet import MEAN_RGB, STDDEV_RGB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", help="a folder with one subfolder of images per class")
    parser.add_argument("--out", default="finetuned.keras", help="where to save the model")
    parser.add_argument("--model", default="binary_resnet_e18", help="see `bnnzoo list`")
    parser.add_argument("--weights", default="imagenet", help="imagenet, a file, or none")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the new classifier")
    parser.add_argument("--finetune-epochs", type=int, default=5, help="epochs of everything")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0, help="random seed of the weights not loaded")
    args = parser.parse_args()
    tf.keras.utils.set_random_seed(args.seed)  # the same run gives the same model

    size = (args.image_size, args.image_size)
    train, val = tf.keras.utils.image_dataset_from_directory(
        args.images, image_size=size, batch_size=args.batch_size,
        validation_split=0.2, subset="both", seed=0,
    )  # fmt: skip
    classes = train.class_names
    train, val = train.prefetch(tf.data.AUTOTUNE), val.prefetch(tf.data.AUTOTUNE)

    backbone = zoo.create_model(
        args.model,
        include_top=False,
        pooling="avg",  # features as one vector per image, as in Keras applications
        weights=None if args.weights.lower() == "none" else args.weights,
        input_shape=(*size, 3),
    )
    inputs = tf.keras.Input((*size, 3))
    # ImageNet's normalization (what zoo.preprocess_input does) as the model's first layer
    x = tf.keras.layers.Normalization(mean=MEAN_RGB, variance=STDDEV_RGB**2)(inputs)
    x = backbone(x)
    outputs = tf.keras.layers.Dense(len(classes))(x)  # logits
    model = tf.keras.Model(inputs, outputs, name=f"{args.model}_finetuned")
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # 1. the new classifier only
    backbone.trainable = False
    model.compile(tf.keras.optimizers.Adam(args.lr), loss, metrics=["accuracy"])
    head = model.fit(train, validation_data=val, epochs=args.epochs, verbose=2)
    losses = head.history["loss"]

    # 2. everything, gently
    if args.finetune_epochs:
        backbone.trainable = True
        model.compile(tf.keras.optimizers.Adam(args.lr / 10), loss, metrics=["accuracy"])
        whole = model.fit(train, validation_data=val, epochs=args.finetune_epochs, verbose=2)
        losses += whole.history["loss"]

    val_loss, val_accuracy = model.evaluate(val, verbose=0)
    model.save(args.out)
    print(f"classes: {', '.join(classes)}")
    print(f"training loss {losses[0]:.4f} -> {losses[-1]:.4f} over {len(losses)} epochs")
    print(f"validation accuracy {val_accuracy:.4f}, validation loss {val_loss:.4f}")
    print(f"saved to {args.out}")


if __name__ == "__main__":
    main()
