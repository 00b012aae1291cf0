"""The orchestrator of the continuous platform: Dagster assets, their sensor and `soundlake run`.

Modules, in the order a record travels:

    settings      where everything is (lake, dbt project, Thrift server, ClickHouse, loader)
    commit_log    the lander's commit log (``bronze/_commits/``) read over WebHDFS or a folder
    bronze        Kafka topics and bronze topics as external assets (topics → bronze)
    dbt           the dbt project's models as assets (bronze → staging → silver → gold)
    clickhouse    the ClickHouse tables, loaded by ``soundlake-loader`` (gold → ClickHouse)
    sensors       the pipeline job and the sensor that launches it on new bronze commits
    definitions   Dagster's ``Definitions`` (``dagster -m soundlake.orchestrate.definitions``)
    freshness     each ClickHouse gold table's age by event time, for Prometheus (/metrics)
    runs          the pipeline's run outcomes, read from Dagster's instance, on that /metrics
    run           ``soundlake run``: eventsim, the lander, Dagster's daemon and web UI

docs/orchestration.md says why Dagster and how to run it.
"""
