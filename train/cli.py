"""``sentilite train`` and ``sentilite evaluate``: thin click layers over :mod:`train.api`.

Importing this module imports neither TensorFlow nor Keras (``sentilite evaluate`` on a .tflite
runs without them); ``train`` imports them when it runs.
"""

from __future__ import annotations

from typing import Any, Optional

import click

from sentilite.core.contract import INTERPOLATIONS

from .config import (
    AUGMENTATIONS,
    CLASS_WEIGHTS,
    DEFAULT_AUGMENT,
    MIXES,
    MODES,
    PRESETS,
    STRATEGIES,
    TrainConfig,
    TrainConfigError,
)
from .precision import PRECISIONS

_BACKBONE_NAMES = (
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "vgg19",
    "inception_resnet_v2",
    "student",
)
_NORMS = ("imagenet", "symmetric", "unit", "raw", "caffe")

TRAIN_EXAMPLES = """\b
Examples:
  # MobileNetV2 from the offline ImageNet backbone, two-phase, Emotion6
  sentilite train --data ../shared/data/emotion6/sentiment_train.txt \\
      --val ../shared/data/emotion6/sentiment_val.txt --test ../shared/data/emotion6/sentiment_test.txt \\
      --backbone-file ../shared/weights/mobilenet_v2_imagenet_1.0_224.keras --feature-layer gap \\
      --mode two-phase --preset replication --out runs/mnv2-two-phase
  # mix Emotion6 with the Twitter images, balanced class weights
  sentilite train --data e6/sentiment_train.txt --data twitter_dev/sentiment_train.txt --val e6/sentiment_val.txt \\
      --backbone-file mnv2.keras --class-weight balanced --out runs/mixed
  # keras.applications with ImageNet weights (needs internet), FT-A, Adam + cosine
  sentilite train --data train.txt --val val.txt --backbone mobilenet_v2 --weights imagenet --mode ft-a \\
      --preset adam-cosine
  # everything in ../shared: the tweet sets say only negative/positive, so they teach polarity only
  sentilite train --data e6/sentiment_train.txt --data oasis/sentiment_all.txt \\
      --partial-data twitter_dev/sentiment_train.txt --partial-data twitter_borth/sentiment_all.txt \\
      --val e6/sentiment_val.txt --backbone-file mnv2.keras --mode ft-a --out runs/all-sources
  # distil a teacher into the tiny student
  sentilite train --data train.txt --val val.txt --backbone student --mode ft-a --teacher runs/mnv2/model.keras \\
      --temperature 4 --alpha 0.1 --out runs/student
  # a semantic head for zero-shot tags, built on ConSE (the backbone file's ImageNet classifier, rank 48)
  sentilite train --data e6/sentiment_train.txt --data oasis/sentiment_all.txt --val e6/sentiment_val.txt \\
      --backbone-file mnv2.keras --heads semantic --semantic-prior conse --head-l2 1 --preset adam-cosine --lr 3e-3
  # continue an interrupted run (same optimizer state, schedule and epoch count)
  sentilite train --resume runs/mnv2-two-phase
"""


@click.command("train", epilog=TRAIN_EXAMPLES, context_settings={"max_content_width": 110})
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="SPLIT",
    help="Training list: B-T4SA split file, CSV (path,label) or class-per-folder tree. Repeat to mix datasets.",
)
@click.option(
    "--partial-data",
    "partial_data",
    multiple=True,
    metavar="SPLIT",
    help="Training list labelled with only some classes (e.g. negative/positive tweets): its images teach the "
    "choice among the classes it uses, never that the others do not occur (marginalised loss). Repeatable.",
)
@click.option("--val", metavar="SPLIT", help="Validation list (early stopping, best-weight selection, val metrics).")
@click.option("--test", metavar="SPLIT", help="Held-out list evaluated once at the end (metrics.json 'test').")
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    help="Folder the split files' image paths are relative to (default: each split file's folder).",
)
@click.option("--backbone", type=click.Choice(_BACKBONE_NAMES), default="mobilenet_v2", show_default=True)
@click.option(
    "--weights",
    metavar="imagenet|none|FILE",
    help="Backbone weights: keras.applications ImageNet download, random, or a weights file "
    "[default: imagenet; none for the student].",
)
@click.option(
    "--backbone-file",
    type=click.Path(dir_okay=False),
    help="Use a full Keras model as the backbone, "
    "cut at --feature-layer (e.g. ../shared/weights/mobilenet_v2_imagenet_1.0_224.keras).",
)
@click.option("--feature-layer", help="Layer of --backbone-file giving the features [default: gap].")
@click.option(
    "--backbone-norm",
    type=click.Choice(_NORMS),
    help="Input normalisation of a --backbone-file without a "
    "sentilite contract inside [default: imagenet, torchvision's].",
)
@click.option("--width", type=float, default=1.0, show_default=True, help="MobileNet width multiplier (keras 'alpha').")
@click.option("--input-size", type=int, help="Square input size [default: 224; 299 inception_resnet_v2; 64 student].")
@click.option(
    "--interpolation",
    type=click.Choice(INTERPOLATIONS),
    default="warp_linear",
    show_default=True,
    help="How images are resampled to the input size; recorded in the contract and followed by every "
    "consumer. warp_linear is MediaPipe's (bilinear, region corners onto tensor corners) and the cheapest per frame.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="ft-f",
    show_default=True,
    help="ft-f: train the head on a frozen backbone; ft-a: all layers (BatchNorm frozen); two-phase: ft-f then ft-a.",
)
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default="replication",
    show_default=True,
    help="replication: SGD 1e-3 m0.9, L2 on conv kernels, lr/10 every 5 epochs, batch 64/48, 15 epochs, "
    "patience 5. adam-cosine: Adam 1e-3 (ft-a 1e-4) with cosine decay, batch 32.",
)
@click.option("--epochs", type=int, help="Maximum epochs per phase [preset: 15].")
@click.option(
    "--warmup-epochs",
    type=int,
    default=0,
    show_default=True,
    help="adam-cosine: epochs of linear learning-rate warm-up (from 0) before the cosine decay.",
)
@click.option("--fine-tune-epochs", type=int, help="Maximum epochs of the ft-a phase of two-phase [default: --epochs].")
@click.option("--batch-size", type=int, help="Batch size [preset: 64 ft-f / 48 ft-a for replication, 32 adam-cosine].")
@click.option("--lr", type=float, help="Learning rate of the first phase (two-phase: ft-a gets lr x 0.1).")
@click.option(
    "--weight-decay", type=float, help="L2 weight decay on conv kernels [preset: 5e-4 replication, 0 adam-cosine]."
)
@click.option("--patience", type=int, help="Early-stopping patience on validation loss [preset: 5].")
@click.option(
    "--keep",
    type=click.Choice(("best", "last", "best-each")),
    default="best",
    show_default=True,
    help="The weights each phase ends with: best (the sentiment head's lowest validation loss, with early "
    "stopping), last (every epoch runs), or best-each (ft-f with --heads: every epoch runs; sentiment from its "
    "best epoch, each extra head from its own lowest validation loss).",
)
@click.option(
    "--dropout", "head_dropout", type=float, default=0.2, show_default=True, help="Dropout before the classifier."
)
@click.option(
    "--head-l2",
    type=float,
    default=0.0,
    show_default=True,
    help="L2 on the extra heads' kernels (--heads): loss += head_l2 / 2 * sum(w ** 2). Choose it on val.",
)
@click.option(
    "--augment",
    default=",".join(DEFAULT_AUGMENT),
    show_default=True,
    help=f"Training augmentations, a comma list of {', '.join(AUGMENTATIONS)} (or none). interp: each image "
    "resized by a method drawn per epoch (warp_linear, linear, area), so apps that resize their own way "
    "change fewer answers.",
)
@click.option("--no-augment", is_flag=True, help="Turn augmentation off (same as --augment none).")
@click.option(
    "--class-weight",
    type=click.Choice(CLASS_WEIGHTS),
    default="none",
    show_default=True,
    help="balanced: weight each class's loss by n / (classes x count).",
)
@click.option(
    "--label-smoothing",
    type=float,
    default=0.0,
    show_default=True,
    help="Spread this much of each hard label evenly over the classes the sample could have had.",
)
@click.option(
    "--heads",
    default="",
    metavar="HEAD,...",
    help="Extra heads beside sentiment, a comma list of emotions (the seven-emotion distribution, learned from "
    "Emotion6's annotator shares), valence_arousal (1-9) and semantic (a photo in GloVe's word space, for "
    "zero-shot tags; needs sentilite[semantic]). Each is taught by the images whose data folder has its labels "
    "(Emotion6's ground_truth.txt, OASIS's valence.csv); other images teach sentiment only.",
)
@click.option(
    "--vocabulary",
    type=click.Path(dir_okay=False, exists=True),
    help="With --heads semantic: the words the model carries for tagging, one label a line (several words on a "
    "line are one phrase) [default: sentilite's affect, scene and object words].",
)
@click.option(
    "--semantic-prior",
    type=click.Choice(("none", "conse")),
    default="none",
    show_default=True,
    help="With --heads semantic: conse adds the backbone's ImageNet classifier, read as a word vector (ConSE), "
    "to the trained projection inside the head (better zero-shot tags; needs an ImageNet classifier, e.g. "
    "../shared/weights/*.keras as --backbone-file).",
)
@click.option(
    "--semantic-prior-rank",
    type=int,
    default=48,
    show_default=True,
    help="The rank the ConSE prior keeps the 1,000-class ImageNet classifier at (0: all of it, +1.3 MB int8; "
    "48: +0.16 MB, which keeps a semantic head within 0.3 MB).",
)
@click.option(
    "--mix",
    type=click.Choice(MIXES),
    default="none",
    show_default=True,
    help="mixup: blend pairs of training images; cutmix: paste a box of one into the other. The loss is "
    "the same blend of the two images' losses (partial labels and distillation included).",
)
@click.option(
    "--mix-alpha",
    type=float,
    default=0.2,
    show_default=True,
    help="The blend weight is drawn per batch from Beta(alpha, alpha).",
)
@click.option(
    "--ema",
    type=float,
    default=0.0,
    show_default=True,
    help="Keep an exponential moving average of the weights with this momentum (e.g. 0.99); validation, "
    "best-weight selection and the saved model use it. 0 = off.",
)
@click.option(
    "--teacher",
    type=click.Path(dir_okay=False),
    multiple=True,
    help="Distil this .keras/.tflite teacher (same labels) into the model; repeat it to distil an ensemble "
    "(the mean of the teachers' probabilities).",
)
@click.option("--temperature", type=float, default=4.0, show_default=True, help="Distillation temperature T.")
@click.option(
    "--alpha",
    type=float,
    default=0.1,
    show_default=True,
    help="Distillation: weight of the hard-label loss; 1 - alpha weighs the T²-scaled KL to the teacher.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--cache-dir",
    help="Decoded-image cache folder [default: $SENTILITE_CACHE_DIR or ~/.cache/sentilite]; "
    "'none' decodes every epoch.",
)
@click.option(
    "--no-feature-cache",
    is_flag=True,
    help="ft-f: run the frozen backbone every epoch instead of training "
    "the head on cached features (needed for crop/colour augmentation in ft-f).",
)
@click.option("--workers", type=int, help="Image-decoding threads [default: CPU count].")
@click.option(
    "--decision-rule",
    "decision",
    type=click.Choice(["fit", "none"]),
    default="fit",
    show_default=True,
    help="After training, fit temperature scaling and a neutral offset on --val (for macro-F1) into the contract.",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="float32",
    show_default=True,
    help="mixed_float16 (NVIDIA GPUs, with loss scaling) or mixed_bfloat16 (TPUs, recent CPUs/GPUs) compute in 16 "
    "bits; "
    "the saved model is float32 either way.",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default="none",
    show_default=True,
    help="tf.distribute: mirrored = every GPU of this machine; multi-worker = several machines "
    "(TF_CONFIG, or --worker-hosts/--worker-index). --batch-size is the global batch.",
)
@click.option(
    "--worker-hosts",
    metavar="HOST:PORT,...",
    help="multi-worker without TF_CONFIG: every worker's address, the chief first.",
)
@click.option(
    "--worker-index",
    type=int,
    help="multi-worker: this worker's position in --worker-hosts (0 = chief). Also with --resume.",
)
@click.option(
    "--out", type=click.Path(file_okay=False), help="Run folder [default: runs/<time>-train-<backbone>-<mode>]."
)
@click.option(
    "--resume",
    "resume",
    type=click.Path(file_okay=False),
    metavar="RUN_DIR",
    help="Continue an interrupted run from its last finished epoch (its own config is used).",
)
@click.option("--quiet", is_flag=True, help="Only the final summary on the console (the log file is complete).")
@click.pass_context
def train_command(
    ctx: click.Context, resume: Optional[str], quiet: bool, no_augment: bool, no_feature_cache: bool, **opts: Any
) -> None:
    """Train an image-sentiment model (negative / neutral / positive) into a run folder: best
    model.keras with its preprocessing contract, history.csv, metrics.json (val/test 3-class and
    2-class accuracy, training time, CPU, memory, size) and PNG plots. Every epoch is
    checkpointed: after Ctrl-C or a kill, --resume RUN_DIR continues where it stopped."""
    from .api import resume_training, train_model
    from .rundir import summary_line

    if resume:
        given = [
            k
            for k, v in opts.items()
            if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE
            and v not in (None, ())
            and k != "worker_index"
        ]
        if given:
            click.echo(
                f"note: --resume uses the run's own config.json; ignoring "
                f"{', '.join('--' + g.replace('_', '-') for g in given)}",
                err=True,
            )
        result = resume_training(resume, verbose=not quiet, worker_index=opts["worker_index"])
    else:
        if not opts["data"] and not opts["partial_data"]:
            raise TrainConfigError("No training data given.", "pass --data SPLIT (or --resume RUN_DIR)")
        opts["augment"] = "none" if no_augment else opts["augment"]
        opts["worker_hosts"] = opts["worker_hosts"] or ()
        config = TrainConfig(feature_cache=not no_feature_cache, verbose=not quiet, **opts)
        result = train_model(config)
    for split in ("val", "test"):
        if result.metrics.get(split):
            click.echo(summary_line(result.metrics[split], split))
    click.echo(f"model: {result.model_path}")
    click.echo(f"run folder: {result.run_dir}")
