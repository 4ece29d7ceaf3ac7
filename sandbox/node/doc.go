// Package node is the node agent of the Kubernetes sandbox backend and its
// link to the lambdalab server. On each sandbox node the agent (RunAgent,
// run by `lambdalab node run`, as root) makes every instance's folder
// (Dir/instances/<id>/{sock,task,opt,tmp}, which the instance's Pod mounts
// by hostPath: see sandbox/kubernetes.PodFor), serves the instance's
// Runtime API on its Unix socket there with sandbox/runtimeapi, relays its
// X-Ray datagrams, places its code and layers, sets its Pod's cgroup v1
// limits, and kills and removes it. On the server a Hub accepts the
// agents and gives the Kubernetes backend one Node per linked agent, whose
// methods are the Docker backend's instance operations done on that node.
// It knows nothing of Docker or of the Kubernetes API.
//
// # The link
//
// One connection per node, dialled by the agent: TLS 1.3 with a client
// certificate, both ends trusting only the lambdalab node CA (CA, in the
// server's data folder; `lambdalab node cert` issues a node's). The node's
// name is its certificate's CommonName, never something it says. On the
// connection yamux carries HTTP/1.1 both ways: the server's control calls
// to the agent (prepare, bind, invoke, cancel, fail, peak, release,
// sweep), and the instances' AWS calls and X-Ray datagrams to the server.
// Bodies are JSON, or frames (wire.go) where bytes travel: an event and
// its answer, the output as it is written, a code bundle. Each side caps
// what it reads (8 MB of JSON, 6 MB + 100 bytes of payload, 1 MB of log,
// 250 MB of unzipped code).
//
// # Identity
//
// As under Docker, the socket is the instance's identity: whatever arrives
// on an instance's aws.sock is that instance's, and the agent forwards it
// with the instance's id. The AWS handler and X-Ray sink stay on the
// server, in the Node of the link that prepared the instance; an id that
// link did not prepare is refused (403), so a node cannot speak for
// another node's instances, only for its own. On the node, Dir/instances
// is 0700 root, each sock/ 0700 and its sockets 0600, owned by uid 993:
// the Pod's user reaches its own socket through its own mount and no
// other instance's (TestSocketReach).
//
// # Losing the link
//
// When a link ends the Hub fails everything of that Node at once (calls in
// flight return ErrLinkDown; the backend closes its instances) and the
// agent kills and removes all of its instances, whose state on the server
// is gone, then dials again with backoff (0.2 s doubling to 5 s). A second
// link with the same name replaces the first.
package node
