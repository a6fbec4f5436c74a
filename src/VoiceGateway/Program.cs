namespace VoiceAgent.Gateway;

internal static class Program
{
    public static int Main(string[] args) => 0;
}
