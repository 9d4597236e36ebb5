return await RedisSidecars.Sidecar.SidecarApp.MainAsync(args);
