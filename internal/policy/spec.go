package policy

// Spec is a container as policy sees it: only what decides its privileges,
// the same fields whatever the source.
type Spec struct {
	Name    string // container name, or the compose service
	Service string
	Image   string
	User    string

	Privileged   bool
	CapAdd       []string // upper case, without CAP_
	CapDrop      []string
	PidMode      string // "host" or ""
	IpcMode      string
	UTSMode      string
	NetworkMode  string
	UsernsMode   string
	CgroupnsMode string

	Mounts  []Mount
	Devices []string

	NoNewPrivileges bool
	Seccomp         string // "unconfined", a profile, or "" (the engine's default)
	AppArmor        string
	ReadOnlyRootfs  bool

	Memory    int64
	NanoCPUs  int64
	PidsLimit int64

	RestartPolicy   string
	RestartMaxRetry int
	Healthcheck     bool // a HEALTHCHECK is set (and not NONE)

	LogDriver string
	LogOpts   map[string]string

	Ports   []Port
	Env     []EnvVar
	Sysctls map[string]string
	Labels  map[string]string // for waivers that select by label
}

// Mount is a bind, volume or tmpfs mount.
type Mount struct {
	Type     string // bind, volume, tmpfs
	Source   string // a host path for binds
	Target   string
	ReadOnly bool
}

// Port is a published port.
type Port struct {
	HostIP        string
	HostPort      int
	ContainerPort int
}

// EnvVar is one environment variable. Value is read by the secrets rule and
// never appears in a finding.
type EnvVar struct {
	Name  string
	Value string
}
