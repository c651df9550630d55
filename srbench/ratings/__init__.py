"""Analysis of MOS ratings (pure pandas / scipy, no I/O).

* :mod:`srbench.ratings.stats` - MOS per method, confidence intervals, Wilcoxon tests and corrections;
* :mod:`srbench.ratings.screening` - which raters are kept: BT.500, test-retest, agreement and every rule;
* :mod:`srbench.ratings.subject_model` - the subject model (rater bias and inconsistency, REML).
"""
