"""An entry point whose module cannot be imported."""
import acme_module_that_is_not_installed  # noqa: F401
