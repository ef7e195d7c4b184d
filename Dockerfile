# The CoreDNS image with ipsecoe built in: a static binary on distroless, run as nonroot.
#   docker build -t ghcr.io/example/ipsecoe-coredns:latest .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... --push .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
# setcap: CoreDNS binds port 53 as a non-root user through the file capability below.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/coredns ./cmd/coredns
# With allowPrivilegeEscalation: false the kernel still grants it, as long as the container
# keeps NET_BIND_SERVICE in its capabilities (the Deployment adds it back after drop ALL).
RUN setcap cap_net_bind_service=+ep /out/coredns

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/coredns /coredns
USER 65532:65532
EXPOSE 53 53/udp 9153
ENTRYPOINT ["/coredns"]
