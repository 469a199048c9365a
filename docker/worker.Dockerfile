# The worker image: Celery, the store and rblock with CUDA torch. One container (or one process) per GPU.
#
# PyPI's Linux x86_64 torch wheels are built with CUDA and bring their CUDA runtime as pip packages, so a
# plain Python base is enough: the NVIDIA container toolkit adds the driver at run time (the GPU
# reservation in docker-compose.yml). TORCH_INDEX_URL picks another build, e.g.
# --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 for an older driver.
FROM python:3.11-slim

ARG TORCH_INDEX_URL=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

WORKDIR /app
# torch first, in its own layer: it is by far the largest and changes least often.
RUN if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install --index-url "$TORCH_INDEX_URL" torch==2.14.1 torchvision==0.29.1; \
    else \
        pip install torch==2.14.1 torchvision==0.29.1; \
    fi
COPY pyproject.toml README.md ./
COPY rblock ./rblock
COPY backend ./backend
COPY frontend ./frontend
COPY worker ./worker
COPY pilot_cli ./pilot_cli
RUN pip install ".[train,api]"

RUN useradd --create-home --uid 1000 pilot \
    && mkdir -p /data/artifacts /data/datasets \
    && chown -R pilot:pilot /data
USER pilot

ENV ARTIFACT_DIR=/data/artifacts \
    DATA_ROOT=/data/datasets

# One Celery process, solo pool, one run at a time, bound to the container's GPU. `rblock-pilot worker
# --help` lists the options; SIGTERM interrupts a run between batches and leaves it to resume elsewhere.
CMD ["rblock-pilot", "worker", "--queues", "gpu", "--device", "cuda", "--events"]
