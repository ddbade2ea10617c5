# syntax=docker/dockerfile:1
# One Dockerfile for every service. PROJECT: the folder under services/ (e.g. TeleGuard.Backup.Snapshot);
# ASSEMBLY: its assembly name (the same, except teleguard-backup for TeleGuard.Backup.Cli).
ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG PROJECT
WORKDIR /src
# The restore layer: project files only, so it is rebuilt only when a project or package version changes
# (DeploymentTests checks that every project under shared/ and services/ is listed here).
COPY Directory.Build.props Directory.Packages.props .editorconfig ./
COPY shared/TeleGuard.Backup.Configuration/TeleGuard.Backup.Configuration.csproj shared/TeleGuard.Backup.Configuration/
COPY shared/TeleGuard.Backup.Contracts/TeleGuard.Backup.Contracts.csproj shared/TeleGuard.Backup.Contracts/
COPY shared/TeleGuard.Backup.Crypto/TeleGuard.Backup.Crypto.csproj shared/TeleGuard.Backup.Crypto/
COPY shared/TeleGuard.Backup.Destinations.GitHub/TeleGuard.Backup.Destinations.GitHub.csproj shared/TeleGuard.Backup.Destinations.GitHub/
COPY shared/TeleGuard.Backup.Destinations.Public/TeleGuard.Backup.Destinations.Public.csproj shared/TeleGuard.Backup.Destinations.Public/
COPY shared/TeleGuard.Backup.Destinations.Telegram/TeleGuard.Backup.Destinations.Telegram.csproj shared/TeleGuard.Backup.Destinations.Telegram/
COPY shared/TeleGuard.Backup.Destinations/TeleGuard.Backup.Destinations.csproj shared/TeleGuard.Backup.Destinations/
COPY shared/TeleGuard.Backup.Export/TeleGuard.Backup.Export.csproj shared/TeleGuard.Backup.Export/
COPY shared/TeleGuard.Backup.Git/TeleGuard.Backup.Git.csproj shared/TeleGuard.Backup.Git/
COPY shared/TeleGuard.Backup.Hosting/TeleGuard.Backup.Hosting.csproj shared/TeleGuard.Backup.Hosting/
COPY shared/TeleGuard.Backup.Recording/TeleGuard.Backup.Recording.csproj shared/TeleGuard.Backup.Recording/
COPY shared/TeleGuard.Backup.Scheduling/TeleGuard.Backup.Scheduling.csproj shared/TeleGuard.Backup.Scheduling/
COPY shared/TeleGuard.Backup.SnapshotFormat/TeleGuard.Backup.SnapshotFormat.csproj shared/TeleGuard.Backup.SnapshotFormat/
COPY shared/TeleGuard.Backup.Storage/TeleGuard.Backup.Storage.csproj shared/TeleGuard.Backup.Storage/
COPY services/TeleGuard.Backup.Cli/TeleGuard.Backup.Cli.csproj services/TeleGuard.Backup.Cli/
COPY services/TeleGuard.Backup.Public/TeleGuard.Backup.Public.csproj services/TeleGuard.Backup.Public/
COPY services/TeleGuard.Backup.GitHub/TeleGuard.Backup.GitHub.csproj services/TeleGuard.Backup.GitHub/
COPY services/TeleGuard.Backup.Recorder/TeleGuard.Backup.Recorder.csproj services/TeleGuard.Backup.Recorder/
COPY services/TeleGuard.Backup.Scheduler/TeleGuard.Backup.Scheduler.csproj services/TeleGuard.Backup.Scheduler/
COPY services/TeleGuard.Backup.Snapshot/TeleGuard.Backup.Snapshot.csproj services/TeleGuard.Backup.Snapshot/
COPY services/TeleGuard.Backup.Telegram/TeleGuard.Backup.Telegram.csproj services/TeleGuard.Backup.Telegram/
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    dotnet restore "services/${PROJECT}/${PROJECT}.csproj"
COPY shared/ shared/
COPY services/ services/
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    dotnet publish "services/${PROJECT}/${PROJECT}.csproj" -c Release -o /app -p:UseAppHost=false --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
ARG ASSEMBLY
ENV ASSEMBLY=${ASSEMBLY} \
    ASPNETCORE_HTTP_PORTS=8080 \
    SNAPSHOT_DIR=/var/lib/teleguard \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=build /app .
# Working directory (git clones, temporary archives) and the artifact directory live on volumes owned by the image's
# non-root user; /work is where the cli's operator mounts a folder for restore and decrypt files.
RUN mkdir -p /var/lib/teleguard /var/lib/teleguard-artifacts /work \
    && chown "$APP_UID" /var/lib/teleguard /var/lib/teleguard-artifacts /work
USER $APP_UID
# Health and metrics (GET /health/live, /health/ready, /metrics) of the long-running services.
EXPOSE 8080
# /health/live over plain bash (the runtime image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /health/live HTTP/1.0\r\n\r\n" >&3 && grep -q " 200 " <&3' || exit 1
ENTRYPOINT ["sh", "-c", "exec dotnet \"/app/${ASSEMBLY}.dll\" \"$@\"", "--"]
