# Pulse on the official Airflow 3.3 image: Java 17 for Spark and the runtime lock file, whose pins
# .venv's dev.lock shares (the test, lint and demo tools stay out of the image).
# Build: docker build -t pulse .   Run (dev): docker run -p 8080:8080 pulse airflow standalone
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# The JDK's folder is named after the architecture (java-17-openjdk-amd64, -arm64): link whichever
# was installed to one fixed path, so the image builds on any platform.
RUN ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /opt/java \
    && /opt/java/bin/java -version
ENV JAVA_HOME=/opt/java

USER airflow
# The lock pins every direct and transitive version with its hashes (Airflow included, so the
# image's own Airflow is kept at the same version): the runtime set that .venv also installs.
COPY --chown=airflow:root requirements/runtime.lock /requirements/runtime.lock
RUN pip install --no-cache-dir --require-hashes -r /requirements/runtime.lock

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
