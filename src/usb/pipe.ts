/** A bulk pipe of the claimed interface, named from the host's side: 'in' = device to host. */
export type Pipe = 'in' | 'out';
