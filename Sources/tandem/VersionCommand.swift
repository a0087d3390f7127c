import ArgumentParser
import CPcap

/// `tandem version`: Tandem's version and the system libraries it is linked with.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and the linked system libraries.")

    func run() {
        print("tandem \(tandemVersion)")
        print("libpcap: \(String(cString: pcap_lib_version()))")
        print("libmnl: linked (rtnetlink support arrives with the Linux dataplane)")
    }
}
