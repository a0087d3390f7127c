// A configuration's pipeline settings, shared by `tandem run` and `tandem replay`.

import TandemDataplane

extension GatewayConfig {
    /// The pipeline settings of the configuration: tunnel MTUs, flow hash, ICMP source addresses and limits.
    public func pipelineConfiguration() -> PipelineConfiguration {
        PipelineConfiguration(
            flowHash: flowHashPolicy, tunnelMTUs: tunnels.map(\.mtu), icmpSourceV4: icmp.sourceIPv4,
            icmpSourceV6: icmp.sourceIPv6,
            icmpRateLimit: ICMPRateLimit(
                perHostInterval: icmp.rateLimit, perHostBurst: icmp.burst, globalPerSecond: icmp.messagesPerSecond,
                globalBurst: icmp.messagesBurst))
    }
}
