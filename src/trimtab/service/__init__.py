"""The 24/7 service: scheduler, journal, database, REST API, dashboard, alerts and user controls."""
