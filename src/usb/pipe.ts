/**
 * A bulk pipe of the claimed interface, named from the host's side: `in` and `out` carry data (BOT's two pipes,
 * UAS's data-in and data-out pipes); UAS adds `status` (IN: SENSE, RESPONSE, READ/WRITE READY IUs) and `command`
 * (OUT: COMMAND and TASK MANAGEMENT IUs).
 */
export type Pipe = 'in' | 'out' | 'status' | 'command';
