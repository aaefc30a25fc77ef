# certctl development recipes. Every recipe is a plain command; none is required.

pg_url := env_var_or_default("CERTCTL_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")

# list the recipes
default:
    @just --list

# run the server on SQLite in ./data
run:
    go run . serve

# run every test (peers that are missing are skipped)
test:
    go test ./...

# run every test against PostgreSQL too, with the race detector, skipping nothing
test-pg:
    CERTCTL_TEST_POSTGRES_URL='{{pg_url}}' CERTCTL_TEST_REQUIRE_ALL=1 go test -race -count=1 ./...

# what CI runs
ci:
    bash .ci/run

# vet and check formatting
lint:
    go vet ./...
    test -z "$(gofmt -l $(git ls-files '*.go'))"

# format the code
fmt:
    gofmt -w $(git ls-files '*.go')

# regenerate generated code (none yet besides what go generate finds)
generate:
    go generate ./...

# run the benchmarks and load tests recorded in docs/benchmarks.md (needs hey and PostgreSQL)
bench:
    CERTCTL_TEST_POSTGRES_URL='{{pg_url}}' go test -run '^$' -bench . -benchtime 1x ./app/cli
    CERTCTL_TEST_POSTGRES_URL='{{pg_url}}' go test -run '^$' -bench . -benchtime 2s ./app/api ./app/middleware ./store/sqlite ./store/postgres
    CERTCTL_TEST_POSTGRES_URL='{{pg_url}}' go test -run '^$' -bench Issuance -benchtime 3s ./app/certs
    CERTCTL_TEST_POSTGRES_URL='{{pg_url}}' go test -run '^$' -bench RenewalSweep -benchtime 1x ./app/certs

# build a static binary
build:
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o certctl .

# build the container image
docker:
    docker build -t certctl:dev .
