using System.Buffers;
using System.Text;
using System.Text.Json;
using VoiceAgent.Gateway.Telephony.Twilio;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>The Media Streams message model: Twilio's inbound events and our outbound media, mark and clear.</summary>
public sealed class TwilioMessagesTests
{
    [Fact]
    public void Inbound_events_parse_with_the_fields_the_gateway_uses()
    {
        var start = TwilioMessages.Parse("""
            {"event":"start","sequenceNumber":"1","streamSid":"MZ11","start":{"streamSid":"MZ11","accountSid":"AC1","callSid":"CA9",
             "tracks":["inbound"],"customParameters":{"token":"s3cret","lang":"en"},
             "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}
            """u8);
        Assert.Equal(TwilioEvent.Start, start.Event);
        Assert.Equal("MZ11", start.StreamSid);
        Assert.Equal("CA9", start.CallSid);
        Assert.Equal("audio/x-mulaw", start.Encoding);
        Assert.Equal(8000, start.SampleRate);
        Assert.Equal(1, start.Channels);
        Assert.Equal("s3cret", start.CustomParameters["token"]);

        var media = TwilioMessages.Parse("""{"event":"media","sequenceNumber":"3","streamSid":"MZ11","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"/////w=="}}"""u8);
        Assert.Equal("inbound", media.Track);
        var bytes = new byte[16];
        Assert.Equal(4, TwilioMessages.DecodePayload(media.Payload!, bytes));
        Assert.All(bytes[..4], b => Assert.Equal(0xFF, b));

        Assert.Equal("7", TwilioMessages.Parse("""{"event":"dtmf","streamSid":"MZ11","dtmf":{"track":"inbound_track","digit":"7"}}"""u8).Digit);
        Assert.Equal("r1:500", TwilioMessages.Parse("""{"event":"mark","streamSid":"MZ11","mark":{"name":"r1:500"}}"""u8).MarkName);
        Assert.Equal(TwilioEvent.Stop, TwilioMessages.Parse("""{"event":"stop","streamSid":"MZ11","stop":{"callSid":"CA9"}}"""u8).Event);
        Assert.Equal(TwilioEvent.Connected, TwilioMessages.Parse("""{"event":"connected","protocol":"Call","version":"1.0.0"}"""u8).Event);
        Assert.Equal(TwilioEvent.Other, TwilioMessages.Parse("""{"event":"something-new"}"""u8).Event);
    }

    [Theory]
    [InlineData("not json", "invalid JSON")]
    [InlineData("[1,2]", "\"event\" string")]
    [InlineData("{\"event\":5}", "\"event\" string")]
    [InlineData("{\"event\":\"media\"}", "\"media\" must be an object")]
    [InlineData("{\"event\":\"media\",\"media\":{}}", "media.payload is missing")]
    [InlineData("{\"event\":\"start\",\"start\":\"x\"}", "\"start\" must be an object")]
    public void Bad_messages_throw_a_protocol_error_naming_the_problem(string json, string expected)
    {
        var ex = Assert.Throws<TwilioProtocolException>(() => TwilioMessages.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_base64_and_oversize_payloads_are_protocol_errors()
    {
        Assert.Throws<TwilioProtocolException>(() => TwilioMessages.DecodePayload("%%%", new byte[16]));
        Assert.Throws<TwilioProtocolException>(() => TwilioMessages.DecodePayload(Convert.ToBase64String(new byte[64]), new byte[16]));
    }

    [Fact]
    public void Outbound_media_mark_and_clear_have_twilios_shape()
    {
        var output = new ArrayBufferWriter<byte>();
        TwilioMessages.WriteMedia(output, "MZ11", [0xFF, 0x7F, 0x00]);
        using (var media = JsonDocument.Parse(output.WrittenMemory))
        {
            Assert.Equal("media", media.RootElement.GetProperty("event").GetString());
            Assert.Equal("MZ11", media.RootElement.GetProperty("streamSid").GetString());
            Assert.Equal(Convert.ToBase64String([0xFF, 0x7F, 0x00]), media.RootElement.GetProperty("media").GetProperty("payload").GetString());
        }

        output.ResetWrittenCount();
        TwilioMessages.WriteMark(output, "MZ11", "r2:1000");
        Assert.Equal("""{"event":"mark","streamSid":"MZ11","mark":{"name":"r2:1000"}}""", Encoding.UTF8.GetString(output.WrittenSpan));

        output.ResetWrittenCount();
        TwilioMessages.WriteClear(output, "MZ11");
        Assert.Equal("""{"event":"clear","streamSid":"MZ11"}""", Encoding.UTF8.GetString(output.WrittenSpan));
    }
}
