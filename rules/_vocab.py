"""The vocabularies several rules share, in one place: metric names, hyperparameter names, test and
training commands, model-loading and prediction calls, data-file suffixes. A rule imports these and
keeps no private copy, so one fix here lifts every rule that uses the word list.
"""
from __future__ import annotations

import functools
import re

# ---- metrics ------------------------------------------------------------------------------------
# model-quality metric names as regex alternatives (lower case; matched case-insensitively); generic
# words ("loss", "score", "metric") are added by each use, since alone they prove less
METRIC_NAMES = (
    r"acc(uracy)?", r"acc@?[15]", r"top-?_?[15]( accuracy)?", r"f1([-_ ]?score)?", r"f-score", r"fscore", r"f_beta", r"precision", r"recall",
    r"roc[-_ ]?auc", r"auroc", r"auprc", r"auc", r"roc", r"m?ap(@?[\d.:]+)?", r"map50(_95)?", r"bleu", r"rouge[\w-]*",
    r"perplexity", r"ppl", r"wer", r"cer", r"rmse", r"mse", r"mae", r"mape", r"smape", r"r2([-_ ]?score)?", r"r\^2",
    r"m?iou", r"dice", r"ndcg", r"mrr", r"psnr", r"ssim", r"fid", r"error[-_ ]?rate", r"brier", r"log[-_ ]?loss",
    r"kappa", r"mcc", r"gini", r"exact match", r"em",
)
_METRICS = "|".join(METRIC_NAMES)
# a metric named in prose or a table header ("Accuracy", "mAP@0.5", "val loss", "score")
PROSE_METRIC = re.compile(rf"\b({_METRICS}|loss|score)\b", re.I)
# a metric with a number next to it, in prose: "accuracy of 0.93", "93% top-1"
_REPORTED = rf"({_METRICS}|(validation|val|test|train(ing)?) loss)"
REPORTED_METRIC = re.compile(rf"\b{_REPORTED}\b[^.\n\d]{{0,25}}(?<![\w.])\d"
                             rf"|(?<![\w.])\d[\d.,]*\s*%?\s*(\w+\s){{0,2}}{_REPORTED}\b", re.I)
# a metric inside an identifier or expression (`val_f1`, `metrics["accuracy"]`, `best_fitness`)
IDENT_METRIC = re.compile(rf"(?i)(?:^|[^a-z0-9])({_METRICS}|loss|score|metrics?|fitness)\d*(?:[^a-z]|$)")
# a metric inside a command-line flag or a library's metric class name (looser: substrings count)
METRIC_FRAGMENT = re.compile(r"(?i)(acc|auc|f1|score|map|precision|recall|rmse|mae|mape|mse|loss|r2|bleu|wer|metric|"
                             r"quality|roc|ndcg|logloss|log_loss|meanerror|absoluteerror|tpr|fpr)")

# ---- hyperparameters ----------------------------------------------------------------------------
# names that are hyperparameters when they appear as config keys, CLI options or constants
HYPERPARAMETER = re.compile(r"""^(?:
    lr\d*|lrf|base_lr|min_lr|max_lr|init_lr|peak_lr|learning_?rate|eta|lr_\w+|\w+_lr|
    (?:n_|num_|max_|min_|total_|train_)?epochs?|(?:num_train_|warmup_)epochs|
    (?:train_|eval_|val_|test_|micro_|global_|mini_|per_device_train_|per_device_eval_)?batch(?:_?size)?|
    gradient_accumulation(?:_steps)?|accumulate(?:_grad_batches)?|
    weight_?decay|momentum|nesterov|betas?\d?|adam_\w+|eps|epsilon|optimi[sz]er|scheduler|lr_scheduler|
    dropout\w*|drop_(?:rate|path(?:_rate)?)|attn_dropout|label_smoothing|
    hidden_(?:size|dim|units|layers)|d_model|d_ff|embed(?:ding)?_(?:dim|size)|n_embd|n_layers?|num_layers|
    n_heads?|num_heads|num_attention_heads|block_size|context_length|seq_len|max_seq_len(?:gth)?|max_len(?:gth)?|
    max_iters?|max_steps|warmup(?:_\w+)?|lr_decay(?:_\w+)?|decay_\w+|grad_clip|clip_grad\w*|max_grad_norm|
    n_estimators|num_boost_round|max_depth|depth|min_samples_(?:split|leaf)|min_child_(?:weight|samples)|
    num_leaves|subsample|colsample_by\w+|reg_(?:alpha|lambda)|l1_ratio|l2_leaf_reg|max_features|max_leaf_nodes|
    criterion|bootstrap|class_weight|penalty|gamma|alpha|c|kernel|degree|iterations|n_neighbors|n_components|
    n_clusters|early_stopping(?:_\w+)?|patience|n_trials|num_trials|trials|num_samples|temperature|top_k|top_p|
    filters|kernel_size|units|activation|layers|hidden_layer_sizes|num_classes|img_?size|image_size|imgsz|
    input_size|loss|loss_fn|metric|objective|ema_decay|mixup\w*|cutmix\w*|augment\w*|hsv_\w|degrees|
    translate|scale|shear|perspective|flipud|fliplr|mosaic|max_features|ngrams?|min_df|max_df|
    n_iter|max_iter|tol|solver|seed|random_state|random_seed|
    discount|tau|gae_lambda|entropy_coef|value_loss_coef|clip_param|expl_noise|policy_noise|noise_clip|
    replay_buffer_size|target_update_\w+
)$""", re.X | re.I)

# names a project's hyperparameters are rarely called; "seed"/"loss"/... alone do not make a config
WEAK_HYPERPARAMETER = re.compile(r"^(seed|random_state|random_seed|metric|loss|objective|criterion|activation|"
                                 r"layers|units|scale|translate|degrees|tol|solver|kernel|c|eps|epsilon|depth|"
                                 r"bootstrap|filters|num_classes)$", re.I)



# the hyperparameters a reader looks for first (ordering of evidence)
CORE_HYPERPARAMETER = re.compile(r"(?i)lr|learning|epoch|batch|decay|momentum|estimator|depth|layer|dropout|hidden|head|iter|"
                                 r"step|leaves|alpha|l1|l2|reg_|warmup|optim")

# hyperparameters of the training run itself, as keyword arguments (architecture literals such as
# kernel_size are left alone)
TRAINING_HYPERPARAMETER = re.compile(
    r"^(lr|learning_rate|eta|base_lr|epochs|n_epochs|num_epochs|max_epochs|num_train_epochs|"
    r"batch_size|per_device_train_batch_size|train_batch_size|weight_decay|momentum|"
    r"n_estimators|num_boost_round|max_depth|depth|num_leaves|min_child_(weight|samples)|"
    r"min_samples_(split|leaf)|subsample|colsample_by\w+|reg_(alpha|lambda)|l2_leaf_reg|"
    r"iterations|max_iter|alpha|l1_ratio|C|gamma|max_steps|warmup_steps|"
    r"gradient_accumulation_steps|early_stopping_rounds|max_features)$")

# a module or folder named for configuration (config.py, settings/, hparams.py, constants.py)
CONFIG_MODULE = re.compile(r"(?i)(^|[/_.-])(config|configs|conf|cfg|settings|params|hparams|hyperparam\w*|"
                           r"defaults|options|arguments|constants)([/_.-]|$)")

# the roles a training module plays, from its name
ROLES = {
    "data": re.compile(r"(?i)(data|dataset|loader|datamodule|prepare|preprocess|feature|featur|split|ingest|etl|augment|transform)"),
    "model": re.compile(r"(?i)(model|net\b|network|(?<![a-z])arch|modeling|layers|backbone|head|module)"),
    "training": re.compile(r"(?i)(train|trainer|engine|loop|fit|lit_|callback|optim|loss|schedul|evaluat|metric)"),
    "config": re.compile(r"(?i)(config|params|settings|hparam|conf\b|args|options)"),
}


def roles_of(text: str) -> "set[str]":
    return set(_roles(text))


@functools.lru_cache(maxsize=65536)
def _roles(text: str) -> "frozenset[str]":
    return frozenset(role for role, rx in ROLES.items() if rx.search(text))


# the role a class plays from the library class it derives from (`class BarlowTwins(nn.Module)` is a model)
BASE_ROLES = (
    (re.compile(r"^(torch\.utils\.data\.|lightning\.pytorch\.LightningDataModule|pytorch_lightning\.LightningDataModule|"
                r"datasets\.Dataset|tensorflow\.keras\.utils\.Sequence|"
                r"keras\.utils\.Sequence|sklearn\.base\.TransformerMixin)"), "data"),
    (re.compile(r"^(torch\.nn\.|tensorflow\.keras\.(Model|layers\.)|keras\.(Model|layers\.)|flax\.linen\.Module|"
                r"transformers\.PreTrainedModel|sklearn\.base\.BaseEstimator)"), "model"),
    (re.compile(r"^(torch\.optim\.|transformers\.Trainer|lightning\.pytorch\.Callback|pytorch_lightning\.Callback)"),
     "training"),
    (re.compile(r"^(lightning\.pytorch\.LightningModule|pytorch_lightning\.LightningModule)"), "model+training"),
)


def definition_roles(qualname: str, bases=()) -> "set[str]":
    """Roles of a function or class from its name and, for a class, the library class it derives from."""
    roles = roles_of(qualname)
    for base in bases:
        for rx, role in BASE_ROLES:
            if rx.match(base):
                roles |= set(role.split("+"))
    return roles


# ---- commands -----------------------------------------------------------------------------------
# a shell line that runs a test suite
TEST_COMMAND = re.compile(r"(?<![\w/.-])(pytest|py\.test|tox|nox|nosetests|nose2|ward|behave)(?![\w.-])|"
                          r"-m\s+(pytest|unittest)\b|\bsetup\.py\s+test\b|\bhatch\s+(run\s+)?test|"
                          r"\b(make|just|invoke|task|poe|(pixi|pdm|hatch|rye|uv|poetry)\s+run)\s+(-\S+\s+)*"
                          r"(test|tests|check|unit[-_]?tests?|integration[-_]?tests?|coverage)\b")
# a shell line that (re)produces the pipeline: dvc repro, mlflow run, make train ...
PIPELINE_COMMAND = re.compile(r"\bdvc\s+(repro|exp\s+run)\b|\bmlflow\s+run\b|\bkedro\s+run\b|"
                              r"\bzenml\s+pipeline\s+run\b|\bmake\s+(-\S+\s+)*(train|training|pipeline|repro|smoke\w*)\b")
# a shell line that trains a model (pipeline commands, training scripts and launchers)
TRAIN_COMMAND = re.compile(
    PIPELINE_COMMAND.pattern + r"|"
    r"\bmake\s+(-\S+\s+)*(re)?train\w*\b|\bpython[\d.]*\s+(-\S+\s+)*-m\s+[\w.]*\btrain\w*|"
    r"(^|[\s/])(re)?train(ing)?[\w-]*\.(py|sh|ipynb)\b|\b(yolo|ultralytics)\s+(\w+\s+)?train\b|"
    r"\baccelerate\s+launch\b|\btorchrun\b")
# a name (job, task, function, stage, file stem) that says it trains
TRAIN_WORD = re.compile(r"(?i)(^|[^a-z])(re)?train(ing|er|s)?([^a-z]|$)|(^|[^a-z])fit([^a-z]|$)|fine_?tun|"
                        r"\bdvc\s+repro\b")

# ---- models -------------------------------------------------------------------------------------
# methods that fit a model
FIT_ATTRS = {"fit", "fit_transform", "partial_fit", "fit_generator", "fit_one_cycle", "fine_tune"}
# functions that load a saved model (resolved names, as prefixes)
MODEL_LOAD_CALLS = ("pickle.load", "joblib.load", "torch.load", "torch.jit.load", "keras.models.load_model",
                    "tensorflow.keras.models.load_model", "tensorflow.saved_model.load", "onnxruntime.InferenceSession",
                    "cloudpickle.load", "dill.load", "skops.io.load", "safetensors.torch.load_file",
                    "mlflow.pyfunc.load_model", "mlflow.sklearn.load_model", "mlflow.pytorch.load_model")
# methods that load a saved model, whatever the library
MODEL_LOAD_ATTRS = {"load_model", "from_pretrained", "load_learner", "load_from_checkpoint", "from_checkpoint", "Booster"}
# methods that run a model on inputs
PREDICT_ATTRS = {"predict", "predict_proba", "predict_on_batch", "generate", "forward", "infer", "inference",
                 "decision_function", "score", "evaluate", "transform"}

# a path that holds a trained model (folder or file name)
MODEL_PATH = re.compile(r"(?i)(^|/)(models?|checkpoints?|weights|artifacts?/model)(/|$)|model[\w-]*\.\w+$")
# a path that holds run outputs rather than data: models, metrics, plots, reports
OUTPUT_PATH = re.compile(MODEL_PATH.pattern + r"|\.(pkl|joblib|pt|pth|onnx|ckpt|safetensors|h5|keras|bin)$|"
                         r"(^|/)(metrics?|plots?|reports?|evaluation|eval|scores?|mlruns|outputs?)(/|$|\.\w+$)")

# ---- serving ------------------------------------------------------------------------------------
# base images that are model servers
SERVER_IMAGES = re.compile(r"(?i)^(docker\.io/)?(tensorflow/serving|pytorch/torchserve|nvcr\.io/nvidia/tritonserver|"
                           r"seldonio/|bentoml/|kserve/|ghcr\.io/huggingface/text-generation-inference|vllm/vllm-openai|"
                           r"(\d+\.dkr\.ecr\.[\w-]+\.amazonaws\.com/)?(sagemaker|huggingface-pytorch-inference|"
                           r"pytorch-inference|tensorflow-inference))")

# ---- data files ---------------------------------------------------------------------------------
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".feather", ".jsonl", ".npy", ".npz", ".h5", ".hdf5", ".xlsx", ".xls",
                 ".arrow", ".avro", ".orc", ".tfrecord", ".tfrecords", ".zip", ".gz", ".pkl", ".txt",
                 ".arff", ".data", ".dta", ".sas7bdat")   # UCI/Weka, Stata and SAS tables

# ---- environment -------------------------------------------------------------------------------
# calls that read an environment variable
ENV_READS = frozenset({"os.getenv", "os.environ.get", "os.environ.__getitem__", "environs.Env", "decouple.config"})

# ---- writes to local files ----------------------------------------------------------------------
# calls that write records or rows to a local file: an open file, a csv writer, a data frame, a serialiser
# (`json.dump(rec, f)`, `df.to_csv(p, mode="a")`, `writer.writerow(row)`, `Path(p).write_text(...)`)
RECORD_FILE_WRITES = frozenset({"write", "writelines", "write_text", "writerow", "writerows", "dump",
                                "to_csv", "to_json", "to_parquet", "to_feather", "write_table"})
# ...and what also writes a record out: serialising it first (`json.dumps`), a tracker's dict artefact, or a
# project helper named for writing (`save_json(meta, p)`, `export_results(...)`)
RECORD_WRITER = re.compile(r"^(dumps|log_dict|(save|write|dump|export)_?\w*)$")


def writes_record(attr: str) -> bool:
    """Whether a call's last name part writes a record out (a file write, a serialiser, a writing helper)."""
    return attr in RECORD_FILE_WRITES or bool(RECORD_WRITER.match(attr))


# ---- downloads checked against a pinned hash ----------------------------------------------------
# download functions -> (keyword, position) of the expected hash; (None, None): the call is the check
CHECKSUM_DOWNLOADS = {
    "torchvision.datasets.utils.check_integrity": (None, None), "torchvision.datasets.utils.check_md5": (None, None),
    "torchvision.datasets.utils.download_url": ("md5", 3),
    "torchvision.datasets.utils.download_and_extract_archive": ("md5", 4),
    "torchvision.datasets.utils.download_file_from_google_drive": ("md5", 3),
    "tensorflow.keras.utils.get_file": ("file_hash", 4), "keras.utils.get_file": ("file_hash", 4),
    "tf_keras.utils.get_file": ("file_hash", 4), "pooch.retrieve": ("known_hash", 1),
    "torch.hub.download_url_to_file": ("hash_prefix", 2), "gdown.cached_download": ("md5", 2),
}
# keyword names that carry an expected hash in any download helper
HASH_KWARGS = {"md5", "sha256", "sha1", "checksum", "known_hash", "file_hash", "md5_hash", "hash_prefix",
               "expected_hash", "expected_sha256", "expected_md5", "sha256sum", "md5sum"}

# ---- acc4b: training frameworks that run the loop on units a script hands them -------------------
# `LightningCLI(Model, DataModule)` or BasicSR's `train_pipeline(root)` after importing the project's
# registered archs/data/models: the script composes the project's units, the framework trains them
FRAMEWORK_TRAINING_RUNNERS = {
    "pytorch_lightning.cli.LightningCLI", "pytorch_lightning.utilities.cli.LightningCLI",
    "lightning.pytorch.cli.LightningCLI", "lightning.pytorch.LightningCLI", "lightning.LightningCLI",
    "basicsr.train.train_pipeline", "mmengine.runner.Runner.from_cfg", "mmcv.runner.Runner",
    "mmdet.apis.train_detector", "mmseg.apis.train_segmentor", "mmdet3d.apis.train_model",
}


# ---- acc6b: model families a README names when it says which model the project trains ----------------
MODEL_FAMILY = re.compile(
    r"(?i)\b(xgboost|lightgbm|lgbm|catboost|random ?forests?|logistic regression|linear regression|ridge regression|"
    r"lasso|svms?|support vector (machine|classifier|regressor)s?|prophet|s?arima|lstms?|grus?|cnns?|"
    r"convolutional neural networks?|resnet[-\d]*|efficientnet[-\w]*|vit|bert|deberta[-\w]*|roberta|distilbert|"
    r"gpt-?\d[\w-]*|llama[-\d]*|mistral|t5|u-?net|transformers?|yolo\w*|gradient[- ]boost\w*|decision trees?|"
    r"naive bayes|k-?nn|k-nearest neighbou?rs?|neural networks?|autoencoders?|gans?|mlp|multi-layer perceptrons?|"
    r"isolation forests?|k-?means)\b")


# model, loss and network code (`models/`, `losses.py`, `unet_model.py`): a check there (`_assert_all_finite` in a
# model library, a NaN test inside a layer) is about the model's own tensors, not the data it is given
MODEL_MODULE = re.compile(r"(?i)(^|/)(models?|modeling|networks?|nets?|layers|losses?)(/|\.py$)|"
                          r"(^|/)\w*(model|loss|losses|layers?|network)\.py$")


# a value holding a run's metrics (`metrics`, `val_scores`, `results_df`, `history`); names of settings or
# metadata are not metrics. Shared by the rules that look for metrics written or stored beside a model
RUN_METRICS = re.compile(r"(?i)^(\w*_)?(metrics?|scores?|results?|report|history|train_info|eval\w*|losses|"
                         r"accurac(y|ies)|rmse|mae|mse|auc|f1)(_\w*)?$")
NOT_METRICS = re.compile(r"(?i)(config|cfg|param|meta|args|setting|schema|vocab|label|feature|column|path|dir|file)")


def run_metrics_name(names) -> str:
    """The first of `names` that names a run's metrics, or ""."""
    return next((n for n in names if RUN_METRICS.match(n) and not NOT_METRICS.search(n)), "")
