"""The metric definitions of shared/METRICS.md, one module per area and one function per metric.

``survey`` (responses and invitations), ``customers`` (the CRM event log), ``combined`` (both),
and ``document`` (everything the JSON API and the ``metrics`` command return).
"""
