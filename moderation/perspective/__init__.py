"""A drop-in replacement for Google's Perspective API (``commentanalyzer`` ``v1alpha1``):
``comments:analyze`` and ``comments:suggestscore`` scored by this service's own model, with
per-site scoring keys and a discovery document for Google's client libraries."""
