FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY broker broker
COPY workers workers
COPY schemas schemas
COPY scripts scripts
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir .
# export the cache's ONNX embedder once, into the image, instead of at every container start
RUN python -c "from workers.cache.embedder import MiniLMEmbedder; assert MiniLMEmbedder().engine == 'onnx'"
ENTRYPOINT []
