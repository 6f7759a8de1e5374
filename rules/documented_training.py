from __future__ import annotations

import re
from pathlib import PurePosixPath

from mlscan.rulekit import Example, Rule
from mlscan.rules._mlcode import in_example_dir
from mlscan.rules._docs import (LEADERBOARD_SCORE, card_file_name, data_dictionary_tables, document_topics,
                                in_data_dir, is_card_front_matter, is_primary_doc, metric_tables, model_zoo_tables,
                                project_docs)
from mlscan.rules._vocab import MODEL_FAMILY, REPORTED_METRIC

DATA_README_WORDS = 15
DATA_SECTION_WORDS = 30


class TrainingDataOrResultsDocumented(Rule):
    """The training data or the evaluation results are documented

    Partial evidence of model documentation, short of a model card: a README in a data folder
    that describes a dataset, a data dictionary (a table of columns with their descriptions), a
    results table whose columns are metrics (accuracy, top-1, mAP, loss, F1, …) and hold
    numbers, a "Dataset"/"Training data" section that names the data with a link or a figure, a
    "Results"/"Evaluation" section that states a metric with its value, and DVC
    `artifacts:` that register the model or dataset with a description, a model-zoo table that
    describes each released model in words, a competition solution's stated leaderboard
    scores (public/private), a results document wherever it sits (`experiments/REPORT.md`), a data dictionary file (`data_description.txt`, `codebook.md`), and
    a notebook whose markdown holds a results table or a data dictionary, and a root README that
    names both the model (a model family: XGBoost, Prophet, ResNet, DeBERTa, LSTM ...) and the data
    it is trained on, with a link to the data's source (Kaggle, UCI, Hugging Face, any URL), outside
    how-to sections (download, setup, usage), and a dataset's own README shipped in a folder of its data
    files with no code beside them (MovieLens' `ml-100k/README`), and a document named for the model
    (`docs/MODELS.md`, `APPROACH.md`) that names its model family in prose, and a root README sentence
    that says which named dataset the model was trained or fine-tuned on ("fine-tuned on the IMDB
    dataset"; not "your own" or "a custom" dataset), or that names the dataset the project uses with a link
    to its source ("I'm using the [Hotel booking demand](https://...) dataset"; not "a setup to use the ...").
    A data section inside a guide ("## Guide" > "### Image Dataset"), Kaggle datasets that hold the
    trained models and a competition's write-up link describe no training data. Only the project's own
    documents count: the root README, documents one folder deep and docs folders. A document whose own
    title says it is a template or a tutorial ("ML Project Template", "kedro mlflow tutorial") describes
    what a reader would build with it, so its example output and sample data do not count.
    """

    id = "documented-data-or-results"
    practice = "model-documentation"
    examples = (
        Example({
            "README.md": "# tiny-gpt\n\n## baselines\n\n| model | params | train loss | val loss |\n"
                         "| --- | --- | --- | --- |\n| gpt2 | 124M | 3.11 | 3.12 |\n| gpt2-xl | 1558M | 2.56 | 2.54 |\n",
            "data/shakespeare/readme.md": "# tiny shakespeare\n\nThe works of Shakespeare as one text file, "
                                          "char-rnn style. After running prepare.py: train.bin has 301,966 tokens "
                                          "and val.bin has 36,059 tokens.\n",
        }, "partial", "results table and a dataset readme, but no card", fires=True),
        Example({
            "README.md": "# Course project\n\n## Evaluation\n```bash\npython evaluate.py --run-id $RUN\n```\n"
                         "```json\n{\"f1\": 0.90}\n```\n",
            "data/README.md": "Data files are downloaded here.\n",
        }, "absent", "a how-to section with only code, and a one-line placeholder", fires=False),
        Example({
            "README.md": "# Churn service\n\n## Configure training data\n\nThe pipeline uses a sample "
                         "[churn dataset](https://example.org/churn) as training data; point DATASET_NAME at your own "
                         "dataset.\n\n## Resources\n\n### Datasets\n\nRefer to the provided "
                         "[datasets](https://example.org/list) for possible selection.\n",
            "data/README.md": "This folder is used for example data, and it is not meant to be used for storing "
                              "training data. Follow the steps in the docs to use your own data for training.\n",
            "train.py": "print('train')\n",
        }, "absent", "how-to sections and a data folder note are not documentation", fires=False),
        Example({
            "dvc.yaml": "artifacts:\n  text-classifier:\n    path: model.pkl\n    type: model\n"
                        "    desc: Detects whether a StackOverflow question is about R\n    labels: [nlp]\n"
                        "stages:\n  train:\n    cmd: python train.py\n",
        }, "partial", "model registered in dvc.yaml with a description", fires=True),
        Example({
            "README.md": "# UNet\n\n## Description\nThis model was trained from scratch with 5k images and scored a "
                         "Dice coefficient of 0.988 on over 100k test images.\n",
        }, "partial", "a result stated in prose under a description heading", fires=True),
        Example({
            "README.md": "# Churn service\n\n## Deployment\nA new model is promoted only if its AUC is at least 0.8.\n",
        }, "absent", "a promotion threshold is not a reported result", fires=False),
        Example({
            "README.md": "# Bike rentals\n\n## Data Sources\n[Data Company](https://example.org) - The data comes from "
                         "a bikeshare company\n[Datasets](https://example.org/index.html) - The data is published monthly\n",
        }, "absent", "two source links with a line each do not document the data", fires=False),
        Example({
            "README.md": "# SSL\n\n### Pretrained Model\n\n<table>\n  <tr>\n    <th>epochs</th>\n    <th>acc1</th>\n"
                         "    <th>acc5</th>\n  </tr>\n  <tr>\n    <td>1000</td>\n    <td>73.5%</td>\n    <td>91.0%</td>\n"
                         "  </tr>\n</table>\n",
        }, "partial", "an HTML results table", fires=True),
        Example({
            "README.md": "# 6th place solution\n\n## Model overview of our final submission\n\n"
                         "| Model Name | CV | Public | Private |\n| --- | --- | --- | --- |\n"
                         "| roberta-large | 0.492 | 0.471 | 0.471 |\n| deberta-large | 0.485 | 0.474 | 0.476 |\n",
        }, "partial", "a Kaggle leaderboard table (CV, public and private scores)", fires=True),
        Example({
            "README.md": "# SimCSE\n\n## Model List\n\nOur released models; the results are slightly better than in "
                         "the paper.\n\n| Model | Avg. STS |\n|:---|:---:|\n| unsup-bert-base | 76.25 |\n"
                         "| sup-bert-base | 81.57 |\n",
        }, "partial", "released models with their numbers, in a section about results", fires=True),
        Example({
            "README.md": "# Demo\n\n## Settings\n\nDefaults that perform well.\n\n| run | epochs | batch |\n"
                         "|---|---|---|\n| small | 10 | 32 |\n| large | 20 | 64 |\n",
        }, "absent", "a table of run settings is not a results table", fires=False),
        Example({
            "data/README.md": "# Data Directory\n\nThis directory contains the data used for training.\n\n"
                              "## Structure\n\n- `raw/`: raw files\n- `processed/`: cleaned files\n\n## Usage\n\n"
                              "1. Place raw data files in the `raw/` directory\n2. Run the pipeline to fill `processed/`\n",
        }, "absent", "a data folder guide (structure, numbered steps) does not describe a dataset", fires=False),
        Example({
            "README.md": "# Demo\n\n## API\n\n- Predict:\n  - **Request body**:\n    ```json\n"
                         "    {\"inputs\": [{\"f1\": 0.5, \"f2\": -1.2}]}\n    ```\n  - returns the scores for each "
                         "input, which reports the model's output\n",
        }, "absent", "a JSON body in a fenced block under a list item is code, not a stated result", fires=False),
        Example({
            "docs/audit.md": "# Audit\n\n## A. Skema Data Mentah\n\n### Tabel kolom mentah\n\n"
                             "| Kolom | dtype | Catatan |\n|---|---|---|\n| tenure | int64 | bulan |\n"
                             "| Contract | object | OHE |\n| Churn | object | Target |\n",
        }, "partial", "a data dictionary written in another language (Kolom | dtype)", fires=True),
        Example({
            "README.md": "# FaceFix\n\n## Model Zoo\n\n| Version | Model Name | Description |\n| --- | --- | --- |\n"
                         "| V1.3 | [facefix-1.3.pth](https://example.org/1.3) | Based on V1.2; more natural results on "
                         "low-quality inputs. |\n| V1.2 | [facefix-1.2.pth](https://example.org/1.2) | No colorization; "
                         "trained with more data. |\n",
        }, "partial", "a model zoo table that describes each released version", fires=True),
        Example({
            "README.md": "# Vocoder\n\n## Pretrained Model\n\nDetails of each folder:\n\n"
                         "|Folder Name|Generator|Dataset|Fine-Tuned|\n|---|---|---|---|\n|LJ_V1|V1|LJSpeech|No|\n"
                         "|VCTK_V1|V1|VCTK|No|\n",
        }, "partial", "released models listed with the dataset each was trained on", fires=True),
        Example({
            "README.md": "# Vocoder\n\n## Pretrained Model\n\n|Folder Name|Generator|Size|\n|---|---|---|\n"
                         "|LJ_V1|V1|55 MB|\n|VCTK_V1|V1|55 MB|\n",
        }, "absent", "released models without descriptions or training data", fires=False),
        Example({
            "README.md": "# FaceFix\n\n## Downloads\n\n| Model | Link |\n| --- | --- |\n| small | [weights](https://x.org/s) |\n"
                         "| large | [weights](https://x.org/l) |\n",
        }, "absent", "download links for checkpoints describe nothing", fires=False),
        Example({
            "README.md": "# 1st place solution\n\n## Submit on Kaggle\n\n- final submission:\n"
                         "  - score: public 0.904, private 0.940 (1st)\n",
        }, "partial", "a competition solution states its leaderboard scores", fires=True),
        Example({
            "data/raw/data_description.txt": "MSSubClass: Identifies the type of dwelling involved in the sale.\n\n"
                                             "        20\t1-STORY 1946 & NEWER ALL STYLES\n        30\t1-STORY 1945 & OLDER\n\n"
                                             "MSZoning: Identifies the general zoning classification of the sale.\n\n"
                                             "       A\tAgriculture\n       C\tCommercial\n",
        }, "partial", "the dataset's field dictionary committed beside the data", fires=True),
        Example({
            "churn_modeling.ipynb": '{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Churn\\n", "\\n", '
                                    '"The retail dataset has one row per customer and these columns:\\n", "\\n", '
                                    '"| column | description |\\n", "|---|---|\\n", "| retained | 1 if the customer stayed |\\n", '
                                    '"| esent | emails sent |\\n", "| eopenrate | share of emails opened |\\n"]}, '
                                    '{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, '
                                    '"source": ["import pandas as pd\\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        }, "partial", "a notebook's markdown documents the dataset's columns", fires=True),
        Example({
            "src/experiments_v2/REPORT.md": "# Experiment report\n\n| Experiment | MAE | WMAPE |\n|---|---|---|\n"
                                            "| baseline | 12.7 | 0.31 |\n| cluster features | 11.9 | 0.29 |\n",
        }, "partial", "a results report deep in the source tree", fires=True),
        Example({
            "src/README.md": "# prediction_model\n\n#### Problem\nPredict whether a loan is approved.\n\n#### Data\n"
                             "| Variables | Description |\n|---|---|\n| Loan_ID | Unique loan ID |\n"
                             "| Gender | Male/Female |\n| LoanAmount | Loan amount in thousands |\n"
                             "| Loan_Status | Loan approved (Y/N) |\n\nSource: Kaggle\n",
        }, "partial", "a data dictionary table under a section headed 'Data'", fires=True),
        Example({
            "README.md": "# Service\n\n## Request data\n| Field | Description |\n|---|---|\n| id | request id |\n"
                         "| text | input text |\n| lang | language code |\n",
        }, "absent", "an API's request fields are not a dataset's dictionary", fires=False),
        Example({
            "README.md": "# Bird classifier\n\nThe model is a ResNet34 built with PyTorch and trained on the "
                         "[Birds Classification Dataset](https://www.kaggle.com/datasets/x/birds) of 400 species.\n\n"
                         "## Usage\n\n```bash\npython train.py\n```\n",
        }, "partial", "a README naming the model and its training data with the data's source", fires=True),
        Example({
            "README.md": "# NFL contact detection\n\nA CNN pipeline.\n\n## Data download\n\n"
                         "Download data to ./data from https://www.kaggle.com/competitions/nfl-contact-detection\n",
        }, "absent", "a data link only inside a download how-to section", fires=False),
        Example({
            "README.md": "# Churn\n\nAn XGBoost classifier.\n\nThe dataset can be downloaded from Kaggle "
                         "[here](https://www.kaggle.com/datasets/x/churn).\n",
        }, "absent", "a download pointer is a step, not a description of the training data", fires=False),
        Example({
            "README.md": "# ML template\n\nA template for XGBoost and LSTM projects.\n\n## 1.1. Adding a new dataset\n\n"
                         "Put the files from the [data portal](https://example.org/portal) into data/raw, 120 MB in all.\n",
        }, "absent", "a numbered how-to section on adding data", fires=False),
        Example({
            "ml-100k/README": "SUMMARY\n=======\n\nMovieLens data sets were collected by the GroupLens Research Project.\n"
                              "This data set consists of 100,000 ratings (1-5) from 943 users on 1682 movies.\n",
            "ml-100k/u.data": "196\t242\t3\t881250949\n186\t302\t3\t891717742\n",
            "train.py": "import pandas as pd\n\nratings = pd.read_csv('ml-100k/u.data', sep='\\t')\n",
        }, "partial", "a dataset's own README (no file suffix) shipped beside its files", fires=True),
        Example({
            "churn/README.md": "# churn\n\nThis is your new project, generated with a template in 2023. Run the pipeline "
                               "with `make run` and the 3 notebooks in order to get started.\n",
            "churn/train.csv": "a,b,y\n1,2,0\n",
            "churn/pipeline.py": "import pandas as pd\n\ndf = pd.read_csv('train.csv')\n",
        }, "absent", "a project folder's README beside a CSV and its code is not a dataset's README", fires=False),
        Example({
            "README.md": "# SimSiam\n\n### Models and Logs\n\nOur pre-trained models:\n<table><tbody>\n"
                         "<th>pre-train epochs</th>\n<th>batch size</th>\n<th>top-1 acc.</th>\n"
                         "<tr>\n<td>100</td>\n<td>512</td>\n<td>68.1</td>\n</tr>\n"
                         "<tr>\n<td>100</td>\n<td>256</td>\n<td>68.3</td>\n</tr>\n</tbody></table>\n",
        }, "partial", "an HTML results table whose header cells come before its first row", fires=True),
        Example({
            "README.md": "# Weights\n\n### Checkpoints\n\n<table><tbody>\n<th>epochs</th>\n<th>checkpoint</th>\n"
                         "<tr>\n<td>100</td>\n<td><a href='https://x.org/a.pth'>link</a></td>\n</tr>\n"
                         "<tr>\n<td>200</td>\n<td><a href='https://x.org/b.pth'>link</a></td>\n</tr>\n</tbody></table>\n",
        }, "absent", "an HTML table of checkpoint links reports no result", fires=False),
        Example({
            "README.md": "# NFL contact\n\nA CNN and LSTM pipeline.\n\n## Final submission\n\nHere is our dataset and config "
                         "for the final sub.\n\nhttps://www.kaggle.com/datasets/someone/nfl2023-model\n",
        }, "absent", "a Kaggle dataset that holds the trained models is not the training data", fires=False),
        Example({
            "README.md": "# 3rd place solution\n\n## Detailed writeup\nhttps://www.kaggle.com/competitions/dfl-shootout/discussion/3602\n\n"
                         "## Datasets (models used in best submission)\nhttps://www.kaggle.com/datasets/someone/final-fold2-lstm\n"
                         "https://www.kaggle.com/datasets/someone/final-all\n",
        }, "absent", "a competition write-up link and a section of model datasets", fires=False),
        Example({
            "README.md": "# Torch CNN\n\nA library for multiclass classification.\n\n## Guide\n### Image Dataset\n"
                         "- Format your dataset like so: data/name/train/class_1/sample_1.jpg, 2 folders per split\n",
        }, "absent", "a dataset section inside a guide is a procedure", fires=False),
        Example({
            "README.md": "# Dog breeds\n\n## About\n### Dataset\nThe Stanford Dogs dataset: 20,580 images of 120 breeds, "
                         "built from ImageNet.\n",
        }, "partial", "a dataset section under a heading that is not a guide", fires=True),
        Example({
            "README.md": "# Plant classifier\n\n## Dataset\n\nThis project uses the **New Plant Diseases Dataset "
                         "(Augmented)** from Kaggle.\n\n## Features\n\n* MobileNetV2-based leaf disease classifier\n",
        }, "partial", "a dataset section that names the dataset and where it comes from in words", fires=True),
        Example({
            "README.md": "# Plant classifier\n\n## Dataset\n\nPut your images under data/train, one folder per class.\n",
        }, "absent", "a dataset section that only says where to put the files", fires=False),
        Example({
            "docs/MODELS.md": "# Models\n\nThe project compares two approaches for sentiment analysis: a Transformer "
                              "fine-tuned on social-media posts as the primary model, and a FastText baseline that is "
                              "lighter and faster.\n\n## Strengths\n\nThe Transformer reads words in context and copes "
                              "with short, informal text.\n\n## Limitations\n\nIt is heavier than the baseline and needs "
                              "a GPU to serve many requests at once; sarcasm and mixed sentiment remain hard for both of the models.\n",
        }, "partial", "a document of its own describes the models", fires=True),
        Example({
            "docs/models.md": "::: mypkg.models\n",
        }, "absent", "an API reference page named models.md", fires=False),
        Example({
            "README.md": "# Movie review sentiment\n\n## Features\n\n* **Fine-tuned DistilBERT:** a pre-trained model, "
                         "fine-tuned on the IMDB dataset of 50,000 reviews.\n\n## Usage\n\n```bash\npython main.py\n```\n",
        }, "partial", "the README says which named dataset the model was fine-tuned on", fires=True),
        Example({
            "README.md": "# Segmentation kit\n\n## Usage\n\nThe U-Net can be trained on your own dataset: put the images "
                         "in data/.\n\n## Notes\n\nModels trained on a custom dataset are saved in runs/.\n",
        }, "absent", "training on your own or a custom dataset names no training data", fires=False),
        Example({
            "README.md": "# GAT\n\n## Overview\n\n- `pre_trained/` contains a pre-trained Cora model (achieving 84.4% "
                         "accuracy on the test set);\n- `models/` contains the implementation.\n",
        }, "partial", "a result stated with an -ing verb in a list item", fires=True),
        Example({
            "README.md": "# Hotel cancellations\n\n## Problem\n\nFor this project, I'm using the [Hotel booking demand]"
                         "(https://www.kaggle.com/datasets/x/hotel-booking) dataset. It has two hotels' bookings.\n",
        }, "partial", "the README names the dataset the project uses, linked to its source", fires=True),
        Example({
            "README.md": "# ML homework\n\nSee the folder of each assignment.\n",
            "hw1/README.md": "# Heart disease\n\nA Gradient Boosting classifier on the heart-disease-cleveland-uci "
                             "dataset: https://www.kaggle.com/datasets/someone/heart-disease-cleveland-uci\n",
            "hw1/train.py": "print('train')\n",
        }, "partial", "a part's own README names the model and links the data it is trained on", fires=True),
        Example({
            "README.md": "# Starters\n\nProject templates.\n",
            "iris-starter/cookiecutter.json": "{\"repo_name\": \"iris\"}\n",
            "iris-starter/README.md": "# Iris starter\n\nThis starter uses the familiar [Iris dataset]"
                                      "(https://www.kaggle.com/uciml/iris) and trains a random forest classifier.\n",
        }, "absent", "a project template's README describes what the template generates", fires=False),
        Example({
            "README.md": "# Starters\n\n* `iris`: a minimum setup to use the traditional "
                         "[Iris dataset](https://example.org/iris) with the catalog.\n"
                         "* It uses [HuggingFace Models](https://hf.co/models) and [Datasets]"
                         "(https://hf.co/docs/datasets) to load models and datasets.\n",
        }, "absent", "a template's 'to use the ... dataset' and a library's 'Datasets' link name no training data",
            fires=False),
        Example({
            "README.rst": "Bird classifier\n===============\n\nOverview\n~~~~~~~~\n\nA ResNet34 trained on the "
                          "`Birds Dataset <https://www.kaggle.com/datasets/x/birds>`__ of 400 species.\n",
        }, "partial", "a reST section underlined with tildes (not a code fence) names the model and its data", fires=True),
        Example({
            "README.md": "# segkit\n\nA Python library of neural networks for image segmentation.\n\n## Examples\n\n"
                         "- [notebook] Binary segmentation on the CamVid dataset "
                         "[here](https://github.com/x/segkit/blob/master/examples/camvid.ipynb)\n",
        }, "absent", "a library's examples: a notebook on some dataset is usage, not the model's training data",
            fires=False),
        Example({
            "README.md": "# ML Project Template\n\nA starting point for tabular classification projects.\n\n"
                         "## Example Output\n\nAfter `make train`, the trained model achieves a Test Accuracy of 92.5% "
                         "on the sample data.\n",
        }, "absent", "a template's example output describes what a reader would get, not a trained model",
            fires=False),
        Example({
            "README.md": "# kedro mlflow tutorial\n\n## Introducing the task and dataset\n\nWe will train a "
                         "sentiment classifier on the IMDB reviews dataset, 50,000 labelled movie reviews from "
                         "https://ai.stanford.edu/~amaas/data/sentiment/ split into train and test halves.\n",
        }, "absent", "a tutorial's dataset section describes the exercise, not the project's model", fires=False),
        Example({
            "README.md": "# Churn model\n\nBuilt from our project template.\n\n## Results\n\n"
                         "| model | accuracy | f1 |\n|---|---|---|\n| xgboost | 0.91 | 0.88 |\n| logreg | 0.86 | 0.81 |\n",
        }, "partial", "a project that mentions a template below its own title still documents its results", fires=True),
    )

    def check(self, facts):
        seen = set()
        seen_notebooks: set = set()
        for path in project_docs(facts):
            doc = facts.document(path)
            if doc is None or card_file_name(path) or is_card_front_matter(doc.front_matter):
                continue   # cards are judged by model-card
            if _template_doc(doc):
                continue
            for line, what in facts.per_file(_doc_hits, path, doc):
                if (path, line) not in seen:
                    seen.add((path, line))
                    yield self.found("partial", path, line, what)
        # acc9: a dataset's own README shipped in the folder of its files (MovieLens' `ml-100k/README`)
        data_folders = _data_folders(facts)
        for path in project_docs(facts):
            p = PurePosixPath(path)
            if str(p.parent) not in data_folders or in_data_dir(path) or not p.name.lower().startswith("readme") \
                    or any(q == path for q, _ in seen):
                continue
            doc = facts.document(path)
            if doc is not None and not _template_doc(doc) and facts.per_file(_describes_dataset, path, doc):
                seen.add((path, 1))
                yield self.found("partial", path, min((s.line for s in doc.headings), default=1),
                                 "a README beside the data files describes the dataset")
        # the root README names the model and, with its source, the data; so may the project's own documents
        # outside it (r12: a part's README `hw1/README.md`, a `docs/` page), but not a project template's README
        for path in sorted(project_docs(facts), key=lambda p: ("/" in p, p)):
            if any(p == path for p, _ in seen) or not _own_prose_doc(facts, path):
                continue
            what = "the README" if "/" not in path else path
            got = facts.per_file(_names_model_and_data, path, facts.document(path), facts.text(path) or "")
            if got:
                line, model, source = got
                yield self.found("partial", path, line, f"{what} names the model ({model}) and the data it is "
                                                        f"trained on, with its source (\"{source}\")")
                break
            got = facts.per_file(_says_trained_on, path, facts.document(path), facts.text(path) or "")
            if got:
                yield self.found("partial", path, got[0], f"{what} says which data the model is trained on "
                                                          f"(\"{got[1]}\")")
                break
        for idx in facts.non_test_code():   # a notebook's markdown: a results table or a data dictionary
            if not idx.is_notebook or in_example_dir(idx.path) or idx.path in seen_notebooks:
                continue
            if facts.exists(idx.path):
                facts.text(idx.path)   # what reading it reports (too big, not UTF-8), as when its prose is parsed
            got = facts.per_file(_notebook_hits, idx.path, facts.notebook_prose)
            if got:
                seen_notebooks.add(idx.path)
                yield self.found("partial", idx.path, 1, f"the notebook's prose {got[0]}")
                if len(seen_notebooks) >= 2:
                    break
        for f in facts.files:   # a data dictionary shipped as its own file (Kaggle's data_description.txt)
            if DATA_DICTIONARY_FILE.search(f.name) and f.size >= 200 and not f.name.endswith((".py", ".ipynb")) \
                    and (in_data_dir(f.path) or is_primary_doc(f.path)):
                yield self.found("partial", f.path, 1, "a data dictionary file describes the dataset's fields")
                break
        for path in [f.path for f in facts.named("dvc.yaml")]:
            doc = facts.config(path)
            arts = doc.data.get("artifacts") if doc and isinstance(doc.data, dict) else None
            for name, art in (arts or {}).items() if isinstance(arts, dict) else []:
                if isinstance(art, dict) and (art.get("desc") or art.get("description")) and \
                        art.get("type") in ("model", "dataset", "data"):
                    yield self.found("partial", path, facts.line_of(path, f"{name}:"),
                                     f"{art.get('type')} artifact {name!r} is registered with a description")


# files that hold a dataset's rows (not .txt, .pkl or archives: notes, models and bundles sit in any folder)
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".feather", ".jsonl", ".arff", ".data", ".xlsx", ".xls", ".npy", ".npz",
                  ".h5", ".hdf5", ".tfrecord", ".tfrecords")


# p17: a document whose own title says it is a template or a tutorial ("ML Project Template", "kedro mlflow
# tutorial") describes what a reader would build with it, not a model the project trained (its "Example Output"
# accuracy, its sample dataset); as with a cookiecutter template's README (r12)
TEMPLATE_TITLE = re.compile(r"(?i)\b(templates?|tutorials?)\b")


def _template_doc(doc) -> bool:
    first = next(iter(doc.headings), None)
    return first is not None and bool(TEMPLATE_TITLE.search(first.title))


def _own_prose_doc(facts, path: str) -> bool:
    """The root README, or a document of the project's own one folder deep or in a docs folder (`hw1/README.md`,
    `docs/Concepts.md`): prose (Markdown, reST or a README), not an example's or a project template's
    (a folder with `cookiecutter.json`, whose README describes what the template generates)."""
    p = PurePosixPath(path)
    doc = facts.document(path)
    if doc is not None and _template_doc(doc):
        return False
    if "/" not in path:
        return p.name.lower().startswith("readme")
    if not (p.name.lower().startswith("readme") or p.suffix.lower() in (".md", ".rst")) or not is_primary_doc(path) \
            or in_example_dir(path):
        return False
    return not any(facts.exists(f"{folder}/cookiecutter.json") for folder in map(str, p.parents) if folder != ".")


def _data_folders(facts) -> set:
    """Folders below the root that hold dataset files and no code (a project folder with a CSV beside its
    modules is not a dataset's folder)."""
    def compute() -> set:
        data, code = set(), set()
        for f in facts.files:
            folder = str(PurePosixPath(f.path).parent)
            if f.suffix in TABLE_SUFFIXES and "/" in f.path:
                data.add(folder)
            elif f.suffix in (".py", ".ipynb", ".toml", ".cfg") or f.name == "Dockerfile":
                code.add(folder)
        return data - code
    return facts.memo("doc-data-folders", compute)


def _describes_dataset(path: str, doc) -> bool:
    return doc.words >= DATA_README_WORDS and _names_data(doc)


def _prose_lines(doc, text: str):
    """(line number, line, stripped) of a document's prose and table lines, outside code blocks and
    headings (as facts/docs.py reads them), leaving out sections that are how-to guides, not about
    results, or examples (a library's "Examples": notebooks on some dataset are usage, not its training data)."""
    lines = text.splitlines()
    for sec in doc.sections if doc is not None else ():
        if sec.level and (HOW_TO.match(sec.title) or _NOT_RESULT.search(sec.title) or _EXAMPLES.match(sec.title)):
            continue
        for first, last in sec.prose_spans:
            for no in range(first, min(last, len(lines)) + 1):
                raw = lines[no - 1]
                yield no, raw, raw.strip()


_EXAMPLES = re.compile(r"(?i)^[\W\d]*examples?\b")


def _names_model_and_data(path: str, doc, text: str) -> tuple:
    """(line, model, data sentence) when a README names a model family and links the data it is trained
    on, outside how-to sections and code blocks; () otherwise."""
    model = data = None
    for no, raw, stripped in _prose_lines(doc, text):
        if model is None:
            m = MODEL_FAMILY.search(_URL.sub(" ", raw))   # not a word inside a link ("...-lstm-ft128")
            if m:
                model = m.group(0)
        if data is None and DATA_SOURCE_LINK.search(raw) and not HOW_TO.match(re.sub(r"^[\s*>+-]+", "", raw)) \
                and not _FETCH_STEP.search(_URL.sub(" ", raw)) and not _MODEL_DATASET_LINK.search(raw) \
                and not _WRITEUP_LINK.search(raw):
            data = (no, re.sub(r"\s+", " ", _LINK_TARGET.sub(r"\1", stripped))[:80])
        if model and data:
            return data[0], model, data[1]
    return ()


def _says_trained_on(path: str, doc, text: str) -> tuple:
    """(line, sentence) when a README's prose says which dataset the model was trained or fine-tuned on
    ("fine-tuned on the IMDB dataset", "Trained on the Jigsaw toxic-comment corpus"), outside how-to
    sections and code blocks; () otherwise."""
    for no, raw, stripped in _prose_lines(doc, text):
        m = None if HOW_TO.match(re.sub(r"^[\s*>+-]+", "", raw)) else \
            (TRAINED_ON_DATA.search(raw) or _uses_linked_dataset(raw))
        if m:
            return no, _LINK_TARGET.sub(r"\1", m.group(0))[:80]
    return ()


# acc11: "For this project, I'm using the [Hotel booking demand](https://www.kaggle.com/...) dataset", "This
# example takes the [Movielens 1M dataset](https://grouplens.org/...)": the project's data named, with its source
USES_LINKED_DATA = re.compile(r"(?i)(?<!\bto )(?<!\bcan )\b(us(e|es|ing)|takes?|based on|built on|leverag\w+|"
                              r"employ\w*)\b[^.\n\[]{0,40}?\[(?P<text>[^\]]{2,80})\]\(https?://[^)]+\)"
                              r"(?P<after>[^.\n\[]{0,25})")
_POINTER = re.compile(r"(?i)\b(can be found|available (at|here|from)|place (it|them)|put (it|them))\b")
_GENERIC_LINK_TEXT = re.compile(r"(?i)^\W*(the\s+)?(data ?sets?|data|here|this|link|hugging ?face( datasets)?|"
                                r"tensorflow datasets|torchvision( datasets)?)\W*$")
_DATA_WORD = re.compile(r"(?i)\b(data ?sets?|corpus|corpora)\b")


def _uses_linked_dataset(raw: str):
    for m in USES_LINKED_DATA.finditer(raw):
        if _DATA_WORD.search(m["text"] + " " + m["after"]) and not _GENERIC_LINK_TEXT.match(m["text"]) \
                and not _FETCH_STEP.search(_URL.sub(" ", raw)) and not _MODEL_DATASET_LINK.search(raw) \
                and not _POINTER.search(raw):
            return m
    return None


# acc10: a sentence that says what the model was trained on, naming the dataset (set 10's labels read it as
# documenting the training data: `shreshthkapai/...`, `JonNData/...`)
TRAINED_ON_DATA = re.compile(r"(?i)\b(trained|fine-?tuned|pre-?trained|finetuned)\b[^.\n]{0,40}?\b(on|with|using)\s+"
                             r"(the\s+)?(?!(this|that|these|your|our|their|its|a|an|the|same|given|custom|own|new|any|"
                             r"some|other|different|proprietary|private|public|full|entire|whole|complete|reference|training|original|"
                             r"combined|resulting|processed|cleaned|augmented|generated|synthetic|sample|above|following|"
                             r"provided|prepared|downloaded|current|latest|updated|historical)\b)[\w\-'’]+(\s+[\w\-'’]+){0,9}?\s+"
                             r"(data ?sets?|corpus|corpora)\b")
# a sentence that names the data with a link to its source: "trained on the [Birds Dataset](https://...)",
# "this Kaggle dataset: https://www.kaggle.com/...", "Source: https://archive.ics.uci.edu/..."
DATA_SOURCE_LINK = re.compile(r"(?i)\b(data ?sets?|corpus|corpora|training data|data source|competition data|"
                              r"kaggle|uci)\b[^\n]{0,120}(\]\(https?://|https?://)|"
                              r"(kaggle\.com/(datasets|competitions|c)/|archive\.ics\.uci\.edu|huggingface\.co/datasets/)")
_LINK_TARGET = re.compile(r"\[([^\]]*)\]\([^)]*\)")
# a step that fetches or uploads files ("Dataset can be downloaded from Kaggle here", "Upload the models to
# Kaggle datasets") tells the reader what to do, not what the model was trained on
_FETCH_STEP = re.compile(r"(?i)\b(download|upload)\w*")
_URL = re.compile(r"https?://\S+")


def _notebook_hits(path: str, notebook_prose) -> tuple:
    """What a notebook's markdown records: a results table or a data dictionary (that file alone;
    remembered by its content, so history does not reparse an unchanged notebook per commit)."""
    doc = notebook_prose(path)
    if doc is None:
        return ()
    return tuple([f"reports results in a table ({h})" for _, h in metric_tables(doc)[:1]] +
                 [f"documents the data's columns ({h})" for _, h in data_dictionary_tables(doc)[:1]])


def _doc_hits(path: str, doc) -> tuple:
    """(line, what) for each way one document records data or results (a judgement of that file alone)."""
    hits = []
    covered = set()
    if in_data_dir(path) and doc.words >= DATA_README_WORDS and _names_data(doc):
        hits.append((min((s.line for s in doc.headings), default=1), "describes a dataset"))
    if is_primary_doc(path) and MODEL_DOC.match(PurePosixPath(path).name) and doc.words >= MODEL_DOC_WORDS:
        prose = " ".join(s.prose for s in doc.sections)
        m = MODEL_FAMILY.search(prose)
        if m:
            hits.append((min((s.line for s in doc.headings), default=1),
                         f"describes the model ({m.group(0)}) in a document of its own"))
    if is_primary_doc(path) or RESULTS_DOC.match(PurePosixPath(path).name):
        for line, header in metric_tables(doc)[:1]:
            hits.append((line, f"reports results in a table ({header})"))
            covered.add("evaluation")
        for line, header in model_zoo_tables(doc)[:1]:
            hits.append((line, f"describes its released models in a table ({header})"))
        for line, header in data_dictionary_tables(doc)[:1]:
            hits.append((line, f"documents the data's columns ({header})"))
            covered.add("training data")
        topics = document_topics(doc)
        for topic in ("training data", "evaluation"):
            if topic in topics and topic not in covered:
                line, title = topics[topic]
                sec = next((s for s in doc.sections if s.line == line), None)
                if sec is not None and _substantiates(topic, sec) and not _in_guide(doc, sec):
                    hits.append((line, f"has a \"{title}\" section on {topic}"))
                    covered.add(topic)
        if "evaluation" not in covered:  # a result stated in prose under any other heading
            for sec in doc.sections:
                m = REPORTED_METRIC.search(sec.prose) if sec.level and not _NOT_RESULT.search(sec.title) else None
                if m and not HOW_TO.match(sec.title) and _RESULT_VERB.search(sec.prose):
                    hits.append((sec.line, f"states a result in its \"{sec.title}\" section "
                                           f"(\"{sec.prose[max(0, m.start() - 30):m.end() + 12].strip()}\")"))
                    break
                lb = LEADERBOARD_SCORE.search(sec.prose) if sec.level and not _NOT_RESULT.search(sec.title) else None
                if lb:
                    hits.append((sec.line, f"states its leaderboard score in its \"{sec.title}\" section "
                                           f"(\"{lb.group(0)}\")"))
                    break
    return tuple(hits)


# a document named for the project's results, wherever it sits (src/experiments/REPORT.md)
RESULTS_DOC = re.compile(r"(?i)^(results?|reports?|experiments?|experiment[_-]?(log|registry|results)|registry|"
                         r"evaluation|model[_-]?report|benchmarks?)\.(md|markdown|rst)$")
# acc9: a document named for the model(s) (`docs/MODELS.md`, `model_description.md`, `APPROACH.md`)
MODEL_DOC = re.compile(r"(?i)^(models?|model[_-]?(description|details|overview|summary)|approach|methodology)\.(md|markdown|rst)$")
MODEL_DOC_WORDS = 60
DATA_DICTIONARY_FILE = re.compile(r"(?i)^(data[_-]?(description|dictionary|desc)|codebook|feature[_-]?descriptions?|"
                                  r"variable[_-]?descriptions?|column[_-]?descriptions?)\.\w+$")
# a result is reported ("scored a Dice coefficient of 0.98", "achieves 93% top-1"), not a threshold or a goal
_RESULT_VERB = re.compile(r"\b(scor(ed|es|ing)|achiev(ed|es|ing)|reach(ed|es|ing)|obtain(ed|s|ing)|gets?|got|yield(ed|s)|"
                          r"trained\b.{0,80}\b(with|to)|results? (in|of)|performs?|reports?)\b", re.I)
_NOT_RESULT = re.compile(r"\b(install|usage|contribut|licen[cs]e|citation|changelog|todo|roadmap|requirements?|"
                         r"monitoring|alert)", re.I)
_DATA_NOUN = re.compile(r"\b(data ?sets?|data|corpus|corpora|samples|images|rows|records|examples|documents|tokens)\b", re.I)
# sections that tell the reader what to do with data (a how-to) rather than what the data is
# (a section number before the words, "1.1. Get competition data", is read past: acc6b)
HOW_TO = re.compile(r"(?i)^[\W\d]*(configure|config|set ?up|setup|create|update|add|adding|use|using|download|get|getting|"
                    r"prepare|install|choose|select|bring|how to|load|refer|see|check|follow|pick|upload)\b")


def _names_data(doc) -> bool:
    """A data folder's README that names its dataset with a figure (a size, a count, a date) or a source
    link; headings alone make a folder guide ("Structure", "Usage"), not a description of the data."""
    if any(re.search(r"(?<![\w.])\d|https?://", _LIST_NUMBER.sub(" ", s.prose)) for s in doc.sections):
        return True
    return any(s.links for s in doc.sections) and not any(_FOLDER_GUIDE.search(s.prose) for s in doc.sections)


_LIST_NUMBER = re.compile(r"(^|\s)\d{1,2}[.)]\s")   # "1. Place raw files ..." is not a figure
# "This folder is used for example data ...": a guide to the folder, not a description of a dataset
_FOLDER_GUIDE = re.compile(r"(?i)\b(this|the) (folder|directory)\b")


# acc9: a "Datasets" heading or a Kaggle dataset link that holds the trained models, not the training data
# ("5. Datasets (models used in best submission)", kaggle.com/datasets/user/nfl2023-model)
_MODEL_DATASETS = re.compile(r"(?i)\bdata ?sets?\b.*\b(models?|weights|checkpoints?)\b")
_MODEL_DATASET_LINK = re.compile(r"(?i)kaggle\.com/datasets/[^/\s]+/[^\s)]*(model|weight|ckpt|checkpoint)")
# a competition's discussion or notebook page is the write-up, not the data
_WRITEUP_LINK = re.compile(r"(?i)kaggle\.com/(competitions|c)/[^\s)/]+/(discussion|code|writeups?)\b")
# acc9: a section inside a guide ("## Guide" > "### Image Dataset": format your folders like so) is a procedure
_GUIDE = re.compile(r"(?i)^[\W\d]*(guide|user guide|usage|getting started|quick ?start|how to|installation|"
                    r"instructions|tutorial|reproduc\w*)\b")


def _in_guide(doc, sec) -> bool:
    """Whether a heading above the section (its parent, grandparent ...) opens a guide or a how-to."""
    level = sec.level
    for s in reversed(doc.sections[:doc.sections.index(sec)]):
        if 0 < s.level < level:
            if _GUIDE.match(s.title) or HOW_TO.match(s.title):
                return True
            level = s.level
    return False


# acc10: a data section that names where its dataset comes from in words ("uses the New Plant Diseases Dataset
# from Kaggle"), without a link or a figure
_NAMED_SOURCE = re.compile(r"(?i)\b(from|on|via)\s+(the\s+)?(kaggle|uci|hugging ?face|openml|yahoo!? finance)\b")


def _substantiates(topic: str, sec) -> bool:
    """A training-data section names the data with a link or a figure; an evaluation section
    states a metric with its value. How-to sections ("Configure training data", "Refer to the
    datasets for possible selection") document a procedure, not the data."""
    if HOW_TO.match(sec.title) or HOW_TO.match(sec.prose):
        return False
    if topic == "training data":
        if _MODEL_DATASETS.search(sec.title):   # Kaggle "datasets" that ship the trained models
            return False
        # a figure (size, count, date) names the data; a bare list of links needs a description beside it
        return bool(_DATA_NOUN.search(sec.prose)) and (bool(re.search(r"\d", sec.prose)) or
                                                       (sec.links > 0 and sec.words >= DATA_SECTION_WORDS) or
                                                       bool(_NAMED_SOURCE.search(sec.prose)))
    return bool(REPORTED_METRIC.search(sec.prose))
