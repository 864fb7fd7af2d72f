package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxFileSize bounds every file berth reads as configuration (berth.yaml,
// compose files, .env, env_file, label_file). A large real project, 100
// services of 50 lines each, is about 150 KiB; 4 MiB is some 25 times
// that. Parsing allocates about 20 times a file's size (a 4 MiB compose
// file: 82 MiB into yaml.Node, measured), and compose-go parses it once
// more, so the bound keeps a load well under half a GiB. Without one,
// `compose: /dev/zero` reads until the machine runs out of memory.
const maxFileSize = 4 << 20

// checkFile refuses what must not be read as configuration: a device, a
// FIFO or socket (reading one blocks or never ends), a directory, or a
// file over maxFileSize. It only stats, so nothing blocks.
func checkFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return checkMode(st)
}

// fileError is why checkFile or readLimited refused a file, worded for the
// user; fix says what to do.
type fileError struct{ msg, fix string }

func (e *fileError) Error() string { return e.msg }

func checkMode(st fs.FileInfo) error {
	m := st.Mode()
	switch {
	case m.IsDir():
		return &fileError{"is a directory, not a file", "name the file inside it"}
	case m&fs.ModeNamedPipe != 0:
		return &fileError{"is a FIFO (named pipe), not a regular file", "name a regular file; berth does not read configuration from pipes"}
	case m&fs.ModeDevice != 0 || m&fs.ModeCharDevice != 0:
		return &fileError{"is a device, not a regular file", "name a regular file"}
	case m&fs.ModeSocket != 0:
		return &fileError{"is a socket, not a regular file", "name a regular file"}
	case !m.IsRegular():
		return &fileError{"is not a regular file", "name a regular file"}
	case st.Size() > maxFileSize:
		return &fileError{fmt.Sprintf("is %s, larger than the %s berth reads", sizeText(st.Size()), sizeText(maxFileSize)),
			"split it, or check that it is the file you meant"}
	}
	return nil
}

func sizeText(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readLimited reads a configuration file after checkFile's checks. The file
// is opened non-blocking and checked again through the open descriptor, so
// a file swapped for a FIFO between the stat and the open cannot hang
// berth, and read through a limit, so a file that grows cannot exhaust
// memory.
func readLimited(path string) ([]byte, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkMode(st); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, &fileError{fmt.Sprintf("is larger than the %s berth reads", sizeText(maxFileSize)),
			"split it, or check that it is the file you meant"}
	}
	return data, nil
}

// readFile reads a file the user named, as a positioned *Error on failure.
func readFile(displayPath string) ([]byte, *Error) {
	data, err := readLimited(displayPath)
	if err != nil {
		return nil, fileErr(displayPath, err)
	}
	return data, nil
}

// fileErr words a failure to read displayPath.
func fileErr(displayPath string, err error) *Error {
	var fe *fileError
	switch {
	case errors.As(err, &fe):
		return &Error{File: displayPath, Msg: fe.msg, Fix: fe.fix, cause: err}
	case errors.Is(err, fs.ErrNotExist):
		return &Error{File: displayPath, Msg: "file does not exist", cause: err}
	case errors.Is(err, fs.ErrPermission):
		return &Error{File: displayPath, Msg: "permission denied reading file", cause: err}
	}
	return &Error{File: displayPath, Msg: "cannot read file", cause: err}
}
