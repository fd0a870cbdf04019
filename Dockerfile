# Pulse on the official Airflow 3.3 image: Java 17 for Spark, the same pinned lock file as .venv.
# Build: docker build -t pulse .   Run (dev): docker run -p 8080:8080 pulse airflow standalone
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64

USER airflow
# The lock pins every direct and transitive version (Airflow included, so the image's own
# Airflow is kept at the same version): one dependency set for laptop, CI and image.
COPY --chown=airflow:root requirements/requirements.lock /requirements/requirements.lock
RUN pip install --no-cache-dir -r /requirements/requirements.lock

# The repo root is the import root (`jobs`, `include`); AIRFLOW_HOME=/opt/airflow.
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root jobs/ /opt/airflow/jobs/
# The platform only: the demo and its generator (include/demo/) stay out of the image.
COPY --chown=airflow:root include/__init__.py /opt/airflow/include/__init__.py
COPY --chown=airflow:root include/pulse/ /opt/airflow/include/pulse/
# The scheduler imports the task libraries once; forked tasks inherit them (include/pulse/preload.py).
COPY --chown=airflow:root include/airflow_local_settings.py /opt/airflow/config/airflow_local_settings.py
COPY --chown=airflow:root expectations/ /opt/airflow/expectations/
ENV PYTHONPATH=/opt/airflow \
    PYSPARK_PYTHON=python \
    PULSE_LANDING_URI=/opt/airflow/data/landing \
    PULSE_WAREHOUSE_URI=/opt/airflow/data/warehouse
