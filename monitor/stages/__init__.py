"""The pure stages: they take frames and config and return results; they never touch storage, the clock or the network.

    quality/      data-quality checks          drift/        reference profile, methods, verdicts
    performance/  metrics vs the baseline      cohorts       per-cohort regressions (FDR-controlled)
    business      cost matrix and guardrails   analysis      worst cohorts and rows
"""

__all__: list[str] = []
