"""litwatch: keeps a living systematic review current from PubMed, ClinicalTrials.gov and feeds."""

__version__ = "0.1.0"
