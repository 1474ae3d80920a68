"""Operating digest: bounces, doctor, metrics, the dashboard's queries.

What an operator needs once mail goes out: bounce and complaint processing (`bounces.py`),
the deliverability and configuration checks of `digest doctor` (`doctor.py`), and the read-only
figures the metrics endpoint and the admin dashboard show.
"""
