# One Dockerfile for every service. PROJECT: the folder under services/ (e.g. TeleGuard.Backup.Snapshot);
# ASSEMBLY: its assembly name (the same, except teleguard-backup for TeleGuard.Backup.Cli).
ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG PROJECT
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props .editorconfig ./
COPY shared/ shared/
COPY services/ services/
RUN dotnet publish "services/${PROJECT}/${PROJECT}.csproj" -c Release -o /app -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
ARG ASSEMBLY
ENV ASSEMBLY=${ASSEMBLY} \
    ASPNETCORE_HTTP_PORTS=8080 \
    SNAPSHOT_DIR=/var/lib/teleguard \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=build /app .
# The working directory (git clones, temporary archives) and the artifact directory (compose's shared artifact store)
# live on volumes owned by the image's non-root user (a new named volume takes the ownership of the image's folder).
RUN mkdir -p /var/lib/teleguard /var/lib/teleguard-artifacts && chown "$APP_UID" /var/lib/teleguard /var/lib/teleguard-artifacts
USER $APP_UID
# /health/live over plain bash (the runtime image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /health/live HTTP/1.0\r\n\r\n" >&3 && grep -q " 200 " <&3' || exit 1
ENTRYPOINT ["sh", "-c", "exec dotnet \"/app/${ASSEMBLY}.dll\" \"$@\"", "--"]
