package guard

// Request is what the engine sends to /AuthZPlugin.AuthZReq (Docker's
// authorization plugin protocol). RequestBody arrives base64-encoded in
// JSON, which encoding/json decodes into the byte slice.
type Request struct {
	User            string            `json:"User"`
	UserAuthNMethod string            `json:"UserAuthNMethod"`
	RequestMethod   string            `json:"RequestMethod"`
	RequestURI      string            `json:"RequestUri"`
	RequestBody     []byte            `json:"RequestBody"`
	RequestHeaders  map[string]string `json:"RequestHeaders"`
}

// Response is the plugin's verdict. Msg is shown to the user on a denial;
// Err reports a failure of the plugin itself.
type Response struct {
	Allow bool   `json:"Allow"`
	Msg   string `json:"Msg,omitempty"`
	Err   string `json:"Err,omitempty"`
}

// maxForwardedBody is the largest body the engine forwards to a plugin:
// bigger ones arrive empty, so a judged request with no body is denied.
const maxForwardedBody = 1 << 20
