package policy

// Spec is a container as policy sees it: only what decides its privileges,
// the same fields whatever the source.
type Spec struct {
	Name    string `cel:"name"` // container name, or the compose service
	Service string `cel:"service"`
	Image   string `cel:"image"`
	User    string `cel:"user"`
	// UserUnknown is true when the container sets no user and the image's
	// USER, which then decides, could not be read (policy check has no
	// engine; the guard sees only the request). User is then "".
	UserUnknown bool `cel:"user_unknown"`
	// UserFromImage is true when User is the image's configured USER.
	UserFromImage bool `cel:"user_from_image"`

	Privileged   bool     `cel:"privileged"`
	CapAdd       []string `cel:"cap_add"` // upper case, without CAP_
	CapDrop      []string `cel:"cap_drop"`
	PidMode      string   `cel:"pid_mode"` // "host" or ""
	IpcMode      string   `cel:"ipc_mode"`
	UTSMode      string   `cel:"uts_mode"`
	NetworkMode  string   `cel:"network_mode"`
	UsernsMode   string   `cel:"userns_mode"`
	CgroupnsMode string   `cel:"cgroupns_mode"`

	Mounts  []Mount  `cel:"mounts"`
	Devices []string `cel:"devices"`

	NoNewPrivileges bool   `cel:"no_new_privileges"`
	Seccomp         string `cel:"seccomp"` // "unconfined", a profile, or "" (the engine's default)
	AppArmor        string `cel:"apparmor"`
	ReadOnlyRootfs  bool   `cel:"read_only_rootfs"`
	SELinuxDisabled bool   `cel:"selinux_disabled"` // label=disable
	UnmaskedPaths   bool   `cel:"unmasked_paths"`   // systempaths=unconfined: /proc/sys writable, /proc/kcore visible

	Memory    int64 `cel:"memory"`
	NanoCPUs  int64 `cel:"nano_cpus"`
	PidsLimit int64 `cel:"pids_limit"`

	RestartPolicy   string `cel:"restart_policy"`
	RestartMaxRetry int    `cel:"restart_max_retry"`
	Healthcheck     bool   `cel:"healthcheck"` // a HEALTHCHECK is set (and not NONE)

	LogDriver string            `cel:"log_driver"`
	LogOpts   map[string]string `cel:"log_opts"`

	Ports   []Port            `cel:"ports"`
	Env     []EnvVar          `cel:"env"`
	Sysctls map[string]string `cel:"sysctls"`
	Labels  map[string]string `cel:"labels"` // for waivers that select by label
}

// Mount is a bind, volume or tmpfs mount.
type Mount struct {
	Type     string `cel:"type"`   // bind, volume, tmpfs
	Source   string `cel:"source"` // a host path for binds
	Target   string `cel:"target"`
	ReadOnly bool   `cel:"read_only"`
	// InProject is true for a bind of the compose project's own directory
	// or below it: not a system path, wherever the project lives.
	InProject bool `cel:"in_project"`
}

// SetImageUser records the image's configured USER for a container that
// sets none: that is the user it will run as.
func (s *Spec) SetImageUser(user string) {
	if s.User == "" {
		s.User, s.UserUnknown, s.UserFromImage = user, false, true
	}
}

// Port is a published port.
type Port struct {
	HostIP        string `cel:"host_ip"`
	HostPort      int    `cel:"host_port"`
	ContainerPort int    `cel:"container_port"`
}

// EnvVar is one environment variable. Value is read by the secrets rule and
// never appears in a finding.
type EnvVar struct {
	Name  string `cel:"name"`
	Value string `cel:"value"`
	// Origin is where the value was written: OriginLiteral (in a committed
	// file), OriginEnvironment (.env, an env_file, the shell), or "" when
	// the source cannot say (a request, a running container).
	Origin string `cel:"origin"`
	// Where is the file:line of a literal value.
	Where string `cel:"where"`
}

// Origins of an environment variable's value.
const (
	OriginLiteral     = "literal"
	OriginEnvironment = "environment"
)
