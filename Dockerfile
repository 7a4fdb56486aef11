# Multi-stage: build with the pinned toolchain, run on a slim image as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY crates ./crates
COPY examples ./examples
COPY sql ./sql
COPY benches ./benches
RUN cargo build --release --locked --bin app

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home app
COPY --from=build /src/target/release/app /usr/local/bin/app
USER app
ENV APP_LISTEN=0.0.0.0:8000
EXPOSE 8000
# The schema travels with the binary: migrate (under the advisory lock), then serve.
CMD ["app", "--migrate"]
