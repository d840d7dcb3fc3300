# One image for every Kumppani service: built on Debian 12, run on Debian 12 slim.
# docker-compose.yml picks the binary per container.
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler \
      liblmdb-dev libuv1-dev libsodium-dev libjansson-dev libcurl4-openssl-dev \
      libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKP_TESTS=OFF \
    && cmake --build /build -j"$(nproc)" \
    && cmake --install /build --prefix /opt/kumppani

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libzmq5 libprotobuf-c1 liblmdb0 lmdb-utils libuv1 libsodium23 libjansson4 tzdata \
      libcurl4 libmicrohttpd12 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/kumppani kumppani \
    && mkdir -p /var/lib/kumppani/store /var/lib/kumppani/metrics \
    && chown -R kumppani /var/lib/kumppani
COPY --from=build /opt/kumppani/bin/ /usr/local/bin/
USER kumppani
WORKDIR /var/lib/kumppani
