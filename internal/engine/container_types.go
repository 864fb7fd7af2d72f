package engine

// The parts of ContainerSpec for the compose settings beyond the basics:
// networks' endpoint settings, limits, device requests, files written in.

// NetworkEndpoint is what a container asks of one network besides DNS aliases.
type NetworkEndpoint struct {
	IPv4Address  string            `json:",omitempty"`
	IPv6Address  string            `json:",omitempty"`
	LinkLocalIPs []string          `json:",omitempty"`
	MacAddress   string            `json:",omitempty"`
	DriverOpts   map[string]string `json:",omitempty"`
}

// Ulimit is one resource limit of the container's processes.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// DeviceRequest asks a device driver (nvidia for GPUs) for devices.
type DeviceRequest struct {
	Driver       string            `json:",omitempty"`
	Count        int               `json:",omitempty"` // -1: all
	DeviceIDs    []string          `json:",omitempty"`
	Capabilities [][]string        `json:",omitempty"`
	Options      map[string]string `json:",omitempty"`
}

// Resources are the cgroup settings beyond Memory, NanoCPUs and PidsLimit.
type Resources struct {
	CPUShares          int64            `json:",omitempty"`
	CPUPeriod          int64            `json:",omitempty"`
	CPUQuota           int64            `json:",omitempty"`
	CPURealtimePeriod  int64            `json:",omitempty"`
	CPURealtimeRuntime int64            `json:",omitempty"`
	CpusetCpus         string           `json:",omitempty"`
	CpusetMems         string           `json:",omitempty"`
	MemoryReservation  int64            `json:",omitempty"`
	MemorySwap         int64            `json:",omitempty"`
	MemorySwappiness   *int64           `json:",omitempty"`
	OomKillDisable     bool             `json:",omitempty"`
	OomScoreAdj        int              `json:",omitempty"`
	BlkioWeight        uint16           `json:",omitempty"`
	BlkioWeightDevice  []WeightDevice   `json:",omitempty"`
	BlkioReadBps       []ThrottleDevice `json:",omitempty"`
	BlkioWriteBps      []ThrottleDevice `json:",omitempty"`
	BlkioReadIOps      []ThrottleDevice `json:",omitempty"`
	BlkioWriteIOps     []ThrottleDevice `json:",omitempty"`
}

// WeightDevice is a relative block IO weight for one device.
type WeightDevice struct {
	Path   string
	Weight uint16
}

// ThrottleDevice caps block IO on one device (bytes or operations per second).
type ThrottleDevice struct {
	Path string
	Rate uint64
}

// File is a file copied into a created container before it starts.
type File struct {
	Path     string // absolute, in the container
	Mode     int64
	UID, GID int
	// Data is kept out of JSON: the spec is hashed and may be printed;
	// Digest stands in for it so a changed value still makes a new release.
	Data   []byte `json:"-"`
	Digest string
}
