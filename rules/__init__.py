"""mlscan's rules: one file per rule, each a pure judgement over facts."""
