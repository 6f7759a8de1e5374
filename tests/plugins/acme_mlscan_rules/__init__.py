"""ACME's own practices for mlscan."""
from mlscan.rulekit import Example, Practice, Rule

FEATURE_STORE = Practice(
    id="acme-feature-store",
    title="Features come from the ACME feature store",
    stage="feature",
    level=2,
    remediation="Read training and serving features with acme_features.get_features(), not from ad-hoc files.",
    looked_for="calls to acme_features.get_features",
)


class FeatureStoreReads(Rule):
    """Features are read through the ACME feature store client"""

    id = "acme-feature-store-reads"
    practice = "acme-feature-store"
    examples = (
        Example({"train.py": "import acme_features\n\nX = acme_features.get_features('churn')\n"}, "present"),
        Example({"train.py": "import pandas as pd\n\nX = pd.read_csv('features.csv')\n"}, "absent"),
    )

    def check(self, facts):
        for idx in facts.non_test_code():
            for call in idx.calls:
                if call.name == "acme_features.get_features":
                    yield self.found("supports", idx.path, call.line, "features read from the ACME feature store")


class RegistryPush(Rule):
    """Models are pushed to the ACME model registry"""

    id = "acme-registry-push"
    practice = "model-registry"

    def check(self, facts):
        for idx in facts.non_test_code():
            for call in idx.calls:
                if call.name == "acme_registry.push_model":
                    yield self.found("supports", idx.path, call.line, "model pushed to the ACME registry")
