"""Grid searches over many workers and machines: ``python -m helpers.search`` (see
:mod:`helpers.training.search_workers`)."""

from helpers.training.search_workers import SEARCHES, SearchSpec, run_worker, search_spec, study_table

__all__ = ["SEARCHES", "SearchSpec", "run_worker", "search_spec", "study_table"]
