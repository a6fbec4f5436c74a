using VoiceAgent.Gateway.Telephony;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>Telephony settings: defaults, blank values (JSON null binds as ""), and the settings that must fail start-up.</summary>
public sealed class TelephonyOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_blank_addresses_fall_back_to_the_bind_address()
    {
        var options = new TelephonyOptions();
        options.Sip.AdvertisedAddress = "";
        options.Rtp.AdvertisedAddress = " ";
        options.Validate();

        Assert.Equal("127.0.0.1", options.SipAddress);
        Assert.Equal("127.0.0.1", options.MediaAddress);
        Assert.Equal("127.0.0.1", options.RtpBindAddress);
    }

    [Fact]
    public void The_media_address_prefers_the_rtp_setting_then_the_sip_one()
    {
        var options = new TelephonyOptions();
        options.Sip.AdvertisedAddress = "203.0.113.7";
        Assert.Equal("203.0.113.7", options.MediaAddress);
        options.Rtp.AdvertisedAddress = "203.0.113.8";
        Assert.Equal("203.0.113.8", options.MediaAddress);
        Assert.Equal("203.0.113.7", options.SipAddress);
    }

    [Theory]
    [InlineData("bind-any", "Telephony:Sip:AdvertisedAddress must be set")]
    [InlineData("rtp-any", "Telephony:Rtp:AdvertisedAddress must be set")]
    [InlineData("port", "Telephony:Sip:Port")]
    [InlineData("range", "Telephony:Rtp port range")]
    [InlineData("jitter", "Telephony:Rtp:JitterBufferMs")]
    [InlineData("bind", "is not an IP address")]
    public void Bad_settings_fail_with_a_sentence_naming_them(string what, string expected)
    {
        var options = new TelephonyOptions();
        switch (what)
        {
            case "bind-any":
                options.Sip.BindAddress = "0.0.0.0";
                break;
            case "rtp-any":
                options.Rtp.BindAddress = "0.0.0.0";
                break;
            case "port":
                options.Sip.Port = 70000;
                break;
            case "range":
                options.Rtp.PortMin = 5000;
                options.Rtp.PortMax = 5000;
                break;
            case "jitter":
                options.Rtp.JitterBufferMs = 5;
                break;
            case "bind":
                options.Sip.BindAddress = "localhost";
                break;
        }

        var ex = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
