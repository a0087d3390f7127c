import CMnl
import CPcap
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The system-library targets link and work: later modules build on them.
@Suite("System libraries")
struct SystemLibraryTests {
    @Test("libpcap reports its version")
    func pcapVersion() {
        let version = String(cString: pcap_lib_version())
        #expect(version.hasPrefix("libpcap version"), "pcap_lib_version() said '\(version)'")
    }

    @Test("libpcap opens a dead handle for raw IP and names its link type")
    func pcapDeadHandle() throws {
        let handle = try #require(pcap_open_dead(DLT_RAW, 65535))
        defer { pcap_close(handle) }
        #expect(pcap_datalink(handle) == DLT_RAW)
        #expect(String(cString: pcap_datalink_val_to_name(DLT_RAW)) == "RAW")
    }

    @Test("libmnl opens and binds an rtnetlink socket (no privileges needed)")
    func mnlSocket() throws {
        let socket = try #require(mnl_socket_open(NETLINK_ROUTE), "mnl_socket_open: errno \(errno)")
        defer { mnl_socket_close(socket) }
        #expect(mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0, "mnl_socket_bind: errno \(errno)")
        #expect(mnl_socket_get_portid(socket) != 0)
    }
}
