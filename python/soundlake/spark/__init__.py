"""Soundlake on Spark: the session every Spark process of the project runs in (``session``)
and ``soundlake-dbt``, dbt run inside that session (``dbt``)."""
