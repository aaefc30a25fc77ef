# Build a static certctl binary, then copy it into a minimal image that runs as UID 1000.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X certctl/app/version.Version=${VERSION}" -o /out/certctl . \
 && mkdir -p /out/data && chown 1000:1000 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/certctl /usr/local/bin/certctl
COPY --from=build --chown=1000:1000 /out/data /data
USER 1000:1000
ENV CERTCTL_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/certctl", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/certctl"]
CMD ["serve"]
